/** Who is making a request, once authenticated. */
export type Principal =
  | {
      kind: 'customer';
      customerId: number;
      email: string;
      /** The session's CSRF token: cookie-authenticated writes must send it in `X-CSRF-Token`. */
      csrfToken: string;
      sessionId: string;
    }
  | {
      kind: 'token';
      tokenId: number;
      /** A token is scoped to one SMS account… */
      accountId: number;
      /** …and optionally to one SMS user, whose messages only it sees. */
      userId: number | null;
      userLogin: string | null;
      /** That user's IP restrictions (empty: any address), checked on every request of the token. */
      ipRestrictions: readonly string[];
    }
  | {
      /** A consumer key of the OVH-compatible API (`/1.0/…`): acts for the customer who validated it, within its access rules. */
      kind: 'ovh';
      credentialId: number;
      applicationId: number;
      customerId: number;
    };

/** The SMS account a request works on, as its principal may see it. */
export interface AccountAccess {
  account: {
    id: number;
    name: string;
    timezone: string;
    ownerId: number;
    credits: number;
    status: string;
    defaultCountry: string;
  };
  /** When set, the principal sees only the messages of this SMS user (login). */
  userLogin: string | null;
  userId: number | null;
  /** How the audit names this principal: "customer:<email>", "token:<id>" or "ovh:<consumer key id>". */
  actor: string;
}

/** Resolves `accountName` for `principal`, or throws ACCOUNT_NOT_FOUND (never tells that it exists). */
export type ResolveAccountAccess = (principal: Principal, accountName: string) => Promise<AccountAccess>;
