/** True when `name` is an IANA timezone this Node.js knows. */
export function isValidTimeZoneName(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}
