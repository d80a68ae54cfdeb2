import { type ReactNode, useCallback, useEffect, useId, useState } from 'react';
import { ApiError, api, isAbort } from '../../api.js';
import { ErrorText, When } from '../../components.js';
import { type Lang, type MessageKey, useI18n } from '../../i18n.js';
import { Link, useLocation } from '../../router.js';
import { useSession } from '../../session.js';
import type { OvhCredentialRequest, OvhRule, OvhValidity } from '../../types.js';
import { OVH_METHODS, OVH_VALIDITIES, RuleCodes } from './ovh-keys-page.js';

/** What a rule's path reaches, in plain words (the first pattern that matches; none: the path itself is shown). */
const PATH_WORDS: readonly [RegExp, MessageKey][] = [
  [/^\/?\*$/, 'ovhPath.all'],
  [/^\/sms$/, 'ovhPath.sms'],
  [/^\/sms\/?\*$/, 'ovhPath.smsAll'],
  [/^\/sms\/[^/]+\/(users\/[^/]+\/)?jobs(\/\*)?$/, 'ovhPath.jobs'],
  [/^\/sms\/[^/]+\/(users\/[^/]+\/)?outgoing(\/\*|\*)?$/, 'ovhPath.outgoing'],
  [/^\/sms\/[^/]+\/users(\/\*|\*)?$/, 'ovhPath.users'],
  [/^\/sms\/[^/]+\/senders(\/\*|\*)?$/, 'ovhPath.senders'],
  [/^\/sms\/[^/*]+$/, 'ovhPath.smsOne'],
  [/^\/me(\/\*|\*)?$/, 'ovhPath.me'],
];

const VERBS: Record<OvhRule['method'], MessageKey> = {
  GET: 'ovhRule.get',
  POST: 'ovhRule.post',
  PUT: 'ovhRule.put',
  DELETE: 'ovhRule.delete',
};

/** A moment as the Manager writes dates (`When`), from epoch milliseconds. */
function formatMoment(ms: number, lang: Lang): string {
  return new Date(ms).toLocaleString(lang === 'fr' ? 'fr-FR' : 'en-GB', { dateStyle: 'short', timeStyle: 'short' });
}

/** "a, b et c" / "a, b and c". */
function joinWords(words: string[], lang: Lang): string {
  return new Intl.ListFormat(lang, { type: 'conjunction' }).format(words);
}

interface Grant {
  /** The sentence: what the application may do, on what. */
  text: ReactNode;
  rules: OvhRule[];
}

/** The rules in plain words, one sentence a path ("Consulter et modifier les utilisateurs SMS"). */
function useGrants(rules: readonly OvhRule[]): Grant[] {
  const { t, lang } = useI18n();
  const byPath = new Map<string, OvhRule[]>();
  for (const rule of rules) byPath.set(rule.path, [...(byPath.get(rule.path) ?? []), rule]);
  return [...byPath].map(([path, group]) => {
    const jobs = /\/jobs(\/\*)?$/.test(path);
    const verbs = OVH_METHODS.filter((m) => group.some((r) => r.method === m)).map((m) =>
      t(m === 'POST' && jobs ? 'ovhRule.send' : VERBS[m]),
    );
    const phrase = joinWords(verbs, lang);
    const capital = phrase.charAt(0).toUpperCase() + phrase.slice(1);
    const words = PATH_WORDS.find(([pattern]) => pattern.test(path))?.[1];
    const text = words ? (
      `${capital} ${t(words, { account: path.split('/')[2] ?? '' })}`
    ) : (
      <>
        {t('ovhPath.other', { verbs: capital })} <code>{path}</code>
      </>
    );
    return { text, rules: OVH_METHODS.flatMap((m) => group.filter((r) => r.method === m)) };
  });
}

/** The host of an http(s) URL, or null (any other URL is never followed). */
function httpHost(url: string | null): string | null {
  if (!url) return null;
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed.host : null;
  } catch {
    return null;
  }
}

type Loaded =
  | { state: 'loading' }
  | { state: 'unknown' }
  | { state: 'failed'; error: ApiError }
  | { state: 'ok'; request: OvhCredentialRequest };

/** A message page of the validation (unknown link, expired, already answered, done). */
function Outcome({ title, tone, children }: { title: string; tone: 'ok' | 'warn' | 'error'; children: ReactNode }) {
  const id = useId();
  return (
    <section className={`card outcome outcome-${tone}`} aria-labelledby={`${id}-title`} data-outcome={tone}>
      <h2 id={`${id}-title`}>{title}</h2>
      {children}
    </section>
  );
}

/**
 * `/ovh/validate?credentialToken=…`: the page an application's validation link opens (OVH-COMPAT.md §2).
 * It shows what the application asks for in plain words and who answers; "Autoriser" binds the consumer
 * key to the signed-in customer (every SMS account of theirs) for the chosen time, "Refuser" ends it.
 * Then the browser goes back to the application's `redirection`, when it gave one.
 */
export function OvhValidatePage() {
  const { t, lang } = useI18n();
  const { me, signOut } = useSession();
  const { search } = useLocation();
  const token = new URLSearchParams(search).get('credentialToken') ?? '';
  const [loaded, setLoaded] = useState<Loaded>({ state: 'loading' });
  const [validity, setValidity] = useState<OvhValidity>(86_400);
  const [busy, setBusy] = useState<'validate' | 'refuse' | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [answer, setAnswer] = useState<{ status: 'validated' | 'refused'; expiresAt: number | null } | null>(null);
  const validityName = useId();

  const load = useCallback(
    (signal?: AbortSignal) => {
      if (!token || token.length > 100) {
        setLoaded({ state: 'unknown' });
        return;
      }
      api.get<OvhCredentialRequest>(`/ovh/credential-requests/${encodeURIComponent(token)}`, undefined, signal).then(
        (request) => setLoaded({ state: 'ok', request }),
        (e) => {
          if (isAbort(e)) return;
          const unknown = e instanceof ApiError && (e.status === 404 || e.status === 400);
          setLoaded(unknown ? { state: 'unknown' } : { state: 'failed', error: e as ApiError });
        },
      );
    },
    [token],
  );
  useEffect(() => {
    const abort = new AbortController();
    setLoaded({ state: 'loading' });
    load(abort.signal);
    return () => abort.abort();
  }, [load]);

  const request = loaded.state === 'ok' ? loaded.request : null;
  const grants = useGrants(request?.rules ?? []);
  const redirectHost = httpHost(request?.redirection ?? null);

  const decide = async (validate: boolean) => {
    if (!request) return;
    setBusy(validate ? 'validate' : 'refuse');
    setError(null);
    try {
      const path = `/ovh/credential-requests/${encodeURIComponent(token)}/${validate ? 'validate' : 'refuse'}`;
      const done = await api.post<{ status: 'validated' | 'refused'; redirection: string | null }>(path, validate ? { validity } : {});
      setAnswer({ status: done.status, expiresAt: validate && validity !== null ? Date.now() + validity * 1000 : null });
      const host = httpHost(done.redirection);
      if (done.redirection && host) window.location.assign(done.redirection);
      else setBusy(null);
    } catch (e) {
      setError(e as ApiError);
      setBusy(null);
      load();
    }
  };

  const accounts = me?.accounts.map((a) => a.name) ?? [];
  const shownAccounts =
    accounts.length > 4 ? [...accounts.slice(0, 3), t('ovhValidate.moreAccounts', { n: accounts.length - 3 })] : accounts;
  const manage = (
    <p>
      <Link to="/ovh/keys">{t('ovhValidate.manage')}</Link>
    </p>
  );

  let content: ReactNode;
  if (loaded.state === 'loading') {
    content = (
      <p className="muted" aria-busy="true">
        {t('common.loading')}
      </p>
    );
  } else if (loaded.state === 'unknown') {
    content = (
      <Outcome title={t('ovhValidate.unknownTitle')} tone="error">
        <p>{t('ovhValidate.unknown')}</p>
      </Outcome>
    );
  } else if (loaded.state === 'failed') {
    content = (
      <>
        <ErrorText error={loaded.error} />
        <div>
          <button type="button" onClick={() => load()}>
            {t('common.retry')}
          </button>
        </div>
      </>
    );
  } else if (answer && request) {
    const name = request.application.name;
    content =
      answer.status === 'validated' ? (
        <Outcome title={t('ovhValidate.validatedTitle')} tone="ok">
          <p>
            {answer.expiresAt === null
              ? t('ovhValidate.validatedForever', { name })
              : t('ovhValidate.validatedUntil', { name, date: formatMoment(answer.expiresAt, lang) })}
          </p>
          {redirectHost ? <p aria-busy="true">{t('ovhValidate.redirecting', { host: redirectHost })}</p> : manage}
        </Outcome>
      ) : (
        <Outcome title={t('ovhValidate.refusedTitle')} tone="warn">
          <p>{t('ovhValidate.refused', { name })}</p>
          {redirectHost && <p aria-busy="true">{t('ovhValidate.redirecting', { host: redirectHost })}</p>}
        </Outcome>
      );
  } else if (request && request.status !== 'pendingValidation') {
    content =
      request.status === 'expired' ? (
        <Outcome title={t('ovhValidate.expiredTitle')} tone="warn">
          <p>{t('ovhValidate.expired', { name: request.application.name })}</p>
        </Outcome>
      ) : (
        <Outcome title={t('ovhValidate.answeredTitle')} tone="warn">
          <p>
            {request.status === 'validated'
              ? t('ovhValidate.alreadyValidated', { name: request.application.name })
              : t('ovhValidate.alreadyRefused', { name: request.application.name })}
          </p>
          {request.status === 'validated' && manage}
        </Outcome>
      );
  } else if (request) {
    const dangerous = request.rules.some((r) => r.method === 'DELETE' || /^\/?\*$/.test(r.path));
    const until = validity === null ? null : Date.now() + validity * 1000;
    content = (
      <form
        className="card ovh-request"
        aria-labelledby="ovh-request-title"
        onSubmit={(event) => {
          event.preventDefault();
          void decide(true);
        }}
      >
        <p className="muted small">
          {t('ovhValidate.requested')} <When iso={request.createdAt} />
        </p>
        <h2 id="ovh-request-title" className="app-name">
          {t('ovhValidate.asks', { name: request.application.name })}
        </h2>
        {request.application.description && (
          <blockquote className="app-description">
            <span className="visually-hidden">{t('ovhValidate.description')} </span>
            {request.application.description}
          </blockquote>
        )}
        <p className="grant-intro">
          <strong>{t('ovhValidate.grant', { accounts: shownAccounts.join(', ') || '—' })}</strong>
        </p>
        <ul className="grants">
          {grants.map((g) => (
            <li key={g.rules[0].path}>
              <span className="grant-text">{g.text}</span>
              <RuleCodes rules={g.rules} />
            </li>
          ))}
        </ul>
        {dangerous && (
          <p className="callout danger-callout">
            <span aria-hidden="true">⚠</span> {t('ovhValidate.dangerous')}
          </p>
        )}
        <ul className="request-facts">
          <li>
            {request.allowedIps?.length ? (
              <>
                {t('ovhValidate.ips')} <span className="mono">{request.allowedIps.join(', ')}</span>
              </>
            ) : (
              t('ovhValidate.anyIp')
            )}
          </li>
          {redirectHost && (
            <li>
              {t('ovhValidate.redirection')} <strong className="mono">{redirectHost}</strong>
            </li>
          )}
        </ul>
        <fieldset className="choices validity-choices">
          <legend>{t('ovhValidate.validity')}</legend>
          <div className="choice-row">
            {OVH_VALIDITIES.map((v) => (
              <label key={String(v.value)} className="check">
                <input
                  type="radio"
                  name={validityName}
                  value={v.value === null ? '' : String(v.value)}
                  checked={validity === v.value}
                  onChange={() => setValidity(v.value)}
                />
                {t(v.label)}
              </label>
            ))}
          </div>
          <p className="hint">
            {until === null ? t('ovhValidate.untilRevoked') : t('ovhValidate.until', { date: formatMoment(until, lang) })}
          </p>
        </fieldset>
        <p className="who-answers">
          {t('ovhValidate.signedInAs', { email: me?.customer.email ?? '' })}{' '}
          <button type="button" className="link" onClick={() => void signOut()}>
            {t('ovhValidate.switch')}
          </button>
        </p>
        <ErrorText error={error} />
        <div className="form-actions decision">
          <button type="submit" className="primary" disabled={busy !== null}>
            {busy === 'validate' ? t('ovhValidate.busy') : t('ovhValidate.authorize')}
          </button>
          <button type="button" className="danger" disabled={busy !== null} onClick={() => void decide(false)}>
            {busy === 'refuse' ? t('ovhValidate.busy') : t('ovhValidate.refuse')}
          </button>
        </div>
      </form>
    );
  }

  return (
    <section className="page narrow ovh-validate">
      <h1>{t('ovhValidate.title')}</h1>
      {content}
    </section>
  );
}
