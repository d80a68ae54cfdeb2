/** A URL as it may be shown (logs, errors, the start banner): its password, if any, as ***. */
export function withPasswordHidden(url: string): string {
  return url.replace(/(\/\/[^:@/]*:)[^@/]*@/, '$1***@');
}
