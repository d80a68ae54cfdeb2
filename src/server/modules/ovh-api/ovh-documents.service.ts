import { createCsvFormatter } from '../../../shared/csv.js';
import type { Clock } from '../../clock.js';
import { AppError } from '../../errors.js';
import { createTtlLruCache } from '../../ttl-cache.js';
import type { AccountAccess, ResolveAccountAccess } from '../auth/principal.js';
import type { ExportChunk } from '../history/export-chunks.js';
import type { HistoryService } from '../history/history.service.js';
import { type OvhKeysService, type OvhPrincipal, requireServerSecret } from './ovh-keys.service.js';
import {
  DOCUMENT_TTL_MS,
  type DocumentClaims,
  documentFilterOf,
  documentIdOf,
  documentKeyMatches,
  documentKeyOf,
  documentNameOf,
  documentRangeOf,
  readDocumentId,
} from './ovh-sms.views.js';

/** The CSV of an empty document (`documentIsEmpty`): the detailed format's header line, as an export of no message. */
async function* headerOnly(timeZone: string): AsyncGenerator<ExportChunk> {
  yield { rows: 0, data: createCsvFormatter('detailed', timeZone).header };
}

const documentNotFound = () => new AppError('NOT_FOUND', 'This document does not exist (or has expired)');

/**
 * History documents of the OVH API (`GET /sms/{serviceName}/document`, `GET /me/document/{id}` and its
 * `getUrl`): a document's id carries, signed with the server secret, what it holds — the account, the
 * range (its end at most the moment it was asked for; one starting later is empty), the tag — and the
 * consumer key that asked; the CSV (Relais' detailed format) is made when it is read. Only that consumer
 * key sees the document, and only while it stays valid; the download URL holds a second MAC, so that an
 * id seen in a log opens nothing.
 */
export function createOvhDocumentsService(deps: {
  history: HistoryService;
  ovhKeys: OvhKeysService;
  resolveAccountAccess: ResolveAccountAccess;
  clock: Clock;
  serverSecret: string | null;
}) {
  const { history, ovhKeys, resolveAccountAccess, clock } = deps;

  const secret = () => requireServerSecret(deps.serverSecret);
  /** Sizes already counted, by document id: a document is read once to count it, not at every call. */
  const sizes = createTtlLruCache<number>({ max: 1_000, ttlMs: DOCUMENT_TTL_MS, clock });

  /** The claims of a document id for `principal`: its own documents only, unexpired, of an account it still reaches. */
  async function documentOf(id: string, principal: OvhPrincipal): Promise<{ claims: DocumentClaims; access: AccountAccess }> {
    const claims = readDocumentId(id, secret(), clock.now());
    if (!claims || claims.customerId !== principal.customerId || claims.credentialId !== principal.credentialId) throw documentNotFound();
    try {
      return { claims, access: await resolveAccountAccess(principal, claims.account) };
    } catch (error) {
      if (error instanceof AppError && error.code === 'ACCOUNT_NOT_FOUND') throw documentNotFound();
      throw error;
    }
  }

  function csvOf(claims: DocumentClaims, access: AccountAccess): AsyncGenerator<ExportChunk> {
    const filter = documentFilterOf(claims);
    if (filter === null) return headerOnly(access.account.timezone);
    return history.exportText(access, filter, { format: 'detailed', limit: null });
  }

  return {
    /** A document of `access`' outgoing history as `query` asks (`wayType`, `creationDatetime.from/.to`, `tag`): its id. */
    make(principal: OvhPrincipal, access: AccountAccess, query: Record<string, unknown>): string {
      const now = clock.now();
      const claims: DocumentClaims = {
        account: access.account.name,
        customerId: principal.customerId,
        credentialId: principal.credentialId,
        applicationId: principal.applicationId,
        ...documentRangeOf(query, access.account.timezone, now),
        createdAt: now,
      };
      return documentIdOf(claims, secret());
    },

    /**
     * A document as `principal` may see it: its claims, its account's timezone, the key of its download
     * URL, and its size (the CSV as it was when first counted here: read once; `gone()` true stops).
     */
    async describe(principal: OvhPrincipal, id: string, gone: () => boolean = () => false) {
      const { claims, access } = await documentOf(id, principal);
      let size = sizes.get(id);
      if (size === undefined) {
        let counted = 0;
        for await (const chunk of csvOf(claims, access)) {
          counted += typeof chunk.data === 'string' ? Buffer.byteLength(chunk.data) : chunk.data.byteLength;
          if (gone()) break;
        }
        size = counted;
        if (!gone()) sizes.set(id, size);
      }
      return { claims, timeZone: access.account.timezone, size, key: documentKeyOf(id, secret()) };
    },

    /** The CSV of a document opened by its download URL (no signature: its key), while the key that asked stays valid. */
    async open(id: string, key: string): Promise<{ name: string; chunks: AsyncGenerator<ExportChunk> }> {
      const claims = readDocumentId(id, secret(), clock.now());
      if (!claims || !documentKeyMatches(id, key, secret())) throw documentNotFound();
      const principal: OvhPrincipal = {
        kind: 'ovh',
        credentialId: claims.credentialId,
        applicationId: claims.applicationId,
        customerId: claims.customerId,
      };
      // The consumer key that asked for it must still be good: revoking it closes its documents too.
      if (!(await ovhKeys.stillValid(principal))) {
        throw new AppError('OVH_INVALID_CREDENTIAL', 'The consumer key that asked for this document is no longer valid');
      }
      const { access } = await documentOf(id, principal);
      return { name: documentNameOf(claims, access.account.timezone), chunks: csvOf(claims, access) };
    },
  };
}

export type OvhDocumentsService = ReturnType<typeof createOvhDocumentsService>;
