import { type FormEvent, useEffect, useId, useRef, useState } from 'react';
import { type ApiError, api } from '../../api.js';
import { ErrorText, When } from '../../components.js';
import { type MessageKey, useI18n } from '../../i18n.js';
import { CardForm, ListTable, useListActions } from '../../list-page.js';
import { useSession } from '../../session.js';
import type { OvhApplication, OvhCredential, OvhRule, OvhValidity } from '../../types.js';
import { copyText, useResource } from '../../use-resource.js';

export const OVH_METHODS: readonly OvhRule['method'][] = ['GET', 'POST', 'PUT', 'DELETE'];

/** The validity choices of a consumer key (as OVH's), with their labels. */
export const OVH_VALIDITIES: readonly { value: OvhValidity; label: MessageKey }[] = [
  { value: 3600, label: 'ovh.validity.hour' },
  { value: 86_400, label: 'ovh.validity.day' },
  { value: 2_592_000, label: 'ovh.validity.month' },
  { value: null, label: 'ovh.validity.unlimited' },
];

/** The ready-made sets of rules of the creation form. */
const PRESETS = {
  read: [
    { method: 'GET', path: '/sms' },
    { method: 'GET', path: '/sms/*' },
  ],
  send: [{ method: 'POST', path: '/sms/*/jobs' }],
  all: OVH_METHODS.map((method) => ({ method, path: '/*' })),
} satisfies Record<string, OvhRule[]>;
type Preset = keyof typeof PRESETS | 'custom';
const PRESET_NAMES: readonly Preset[] = ['read', 'send', 'all', 'custom'];

/** Whether `rules` let a key call `method` on `path` (`*` stands for anything, slashes too), as the server decides. */
export function rulesAllow(rules: readonly OvhRule[], method: string, path: string): boolean {
  return rules.some(
    (rule) =>
      rule.method === method &&
      new RegExp(
        `^${rule.path
          .split('*')
          .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
          .join('.*')}$`,
      ).test(path),
  );
}

/** The rules of a consumer key as compact code: `GET /sms/*`. */
export function RuleCodes({ rules }: { rules: readonly OvhRule[] }) {
  return (
    <ul className="rule-codes">
      {rules.map((rule, i) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: a key's rules never move
        <li key={i}>
          <code>
            <span className={`method method-${rule.method.toLowerCase()}`}>{rule.method}</span> {rule.path}
          </code>
        </li>
      ))}
    </ul>
  );
}

/** The base URL of this server's OVH-compatible API, as the browser reached it. */
export function ovhEndpoint(): string {
  return `${window.location.origin}/1.0`;
}

function lines(text: string): string[] {
  return text
    .split(/[\n,]+/)
    .map((l) => l.trim())
    .filter(Boolean);
}

/** A string literal that JavaScript, Python and PHP all read the same way. */
const q = (value: string) => `'${value.replace(/[\\']/g, '\\$&')}'`;

export interface SnippetInput {
  appKey: string;
  /** Null when it is no longer known (the application was made earlier): a placeholder is written. */
  appSecret: string | null;
  consumerKey: string;
  rules: readonly OvhRule[];
  /** An SMS account of the customer, for a call that names one. */
  account: string | null;
}

type Language = 'node' | 'python' | 'php';
const LANGUAGES: readonly { id: Language; label: string }[] = [
  { id: 'node', label: 'Node.js (ovh)' },
  { id: 'python', label: 'Python (ovh)' },
  { id: 'php', label: 'PHP (ovh/ovh)' },
];

/**
 * A configuration of OVH's official client for this server, with a first call the key's rules allow.
 * The npm client always speaks HTTPS and signs the host without its port; python-ovh and php-ovh take
 * the endpoint's URL as it is.
 */
function snippet(
  language: Language,
  input: SnippetInput,
  words: { secret: string; httpsPort: string; noHttps: string; message: string },
  httpsPort: number | null,
): string {
  const { appKey, consumerKey, rules } = input;
  const appSecret = input.appSecret ?? words.secret;
  const account = input.account ?? 'sms-xx00000-1';
  const endpoint = ovhEndpoint();
  type Call = { method: 'GET' | 'POST'; path: string; body?: { message: string; receivers: string[] } };
  const call: Call = rulesAllow(rules, 'GET', '/sms')
    ? { method: 'GET', path: '/sms' }
    : rulesAllow(rules, 'GET', `/sms/${account}`)
      ? { method: 'GET', path: `/sms/${account}` }
      : rulesAllow(rules, 'POST', `/sms/${account}/jobs`)
        ? { method: 'POST', path: `/sms/${account}/jobs`, body: { message: words.message, receivers: ['+33612345678'] } }
        : rulesAllow(rules, 'GET', '/me')
          ? { method: 'GET', path: '/me' }
          : { method: 'GET', path: '/auth/currentCredential' };
  const receivers = call.body ? `[${call.body.receivers.map(q).join(', ')}]` : '';
  switch (language) {
    case 'node': {
      const https = window.location.protocol === 'https:';
      const port = https ? window.location.port : String(httpsPort ?? 8443);
      const request = call.body
        ? `ovh.requestPromised('POST', ${q(call.path)}, { message: ${q(call.body.message)}, receivers: ${receivers} })`
        : `ovh.requestPromised('GET', ${q(call.path)})`;
      return [
        '// npm install ovh',
        "const ovh = require('ovh')({",
        `  host: ${q(window.location.hostname)},`,
        ...(port ? [`  port: ${port},${https ? '' : ` // ${httpsPort === null ? words.noHttps : words.httpsPort}`}`] : []),
        `  appKey: ${q(appKey)},`,
        `  appSecret: ${q(appSecret)},`,
        `  consumerKey: ${q(consumerKey)},`,
        '});',
        '',
        request,
        '  .then((answer) => console.log(answer))',
        '  .catch((error) => console.error(error));',
      ].join('\n');
    }
    case 'python': {
      const request = call.body
        ? `client.post(${q(call.path)}, message=${q(call.body.message)}, receivers=${receivers})`
        : `client.get(${q(call.path)})`;
      return [
        '# pip install ovh',
        'import ovh',
        'import ovh.client',
        '',
        `ovh.client.ENDPOINTS['relais'] = ${q(endpoint)}`,
        'client = ovh.Client(',
        "    endpoint='relais',",
        `    application_key=${q(appKey)},`,
        `    application_secret=${q(appSecret)},`,
        `    consumer_key=${q(consumerKey)},`,
        ')',
        '',
        `print(${request})`,
      ].join('\n');
    }
    case 'php': {
      const request = call.body
        ? `$ovh->post(${q(call.path)}, ['message' => ${q(call.body.message)}, 'receivers' => ${receivers}])`
        : `$ovh->get(${q(call.path)})`;
      return [
        '<?php',
        '// composer require ovh/ovh',
        "require __DIR__ . '/vendor/autoload.php';",
        '',
        'use Ovh\\Api;',
        '',
        `$ovh = new Api(${q(appKey)}, ${q(appSecret)}, ${q(endpoint)}, ${q(consumerKey)});`,
        '',
        `print_r(${request});`,
      ].join('\n');
    }
  }
}

/** The client configuration to paste, in the language chosen. */
function Snippet(input: SnippetInput) {
  const { t } = useI18n();
  const [language, setLanguage] = useState<Language>('node');
  const [copied, setCopied] = useState(false);
  const id = useId();
  const { me } = useSession();
  const text = snippet(
    language,
    input,
    {
      secret: t('ovh.snippet.secretPlaceholder'),
      httpsPort: t('ovh.snippet.httpsPort'),
      noHttps: t('ovh.snippet.noHttps'),
      message: t('ovh.snippet.message'),
    },
    me?.httpsPort ?? null,
  );
  return (
    <section className="snippet" aria-labelledby={`${id}-title`}>
      <div className="snippet-head">
        <h3 id={`${id}-title`}>{t('ovh.snippet.title')}</h3>
        <fieldset className="segmented">
          <legend className="visually-hidden">{t('ovh.snippet.language')}</legend>
          {LANGUAGES.map((l) => (
            <button
              key={l.id}
              type="button"
              aria-pressed={language === l.id}
              className={language === l.id ? 'active' : ''}
              onClick={() => {
                setLanguage(l.id);
                setCopied(false);
              }}
            >
              {l.label}
            </button>
          ))}
        </fieldset>
        <button
          type="button"
          onClick={() => void copyText(text).then(setCopied)}
          aria-label={`${t('common.copy')} ${t('ovh.snippet.title')}`}
        >
          {copied ? t('common.copied') : t('common.copy')}
        </button>
      </div>
      <pre className="code" data-snippet={language}>
        <code>{text}</code>
      </pre>
      {input.appSecret === null && <p className="hint">{t('ovh.snippet.noSecret', { placeholder: t('ovh.snippet.secretPlaceholder') })}</p>}
      {language === 'node' && <p className="hint">{t('ovh.snippet.nodeHttps')}</p>}
    </section>
  );
}

/** One key of the keys panel: its name, its value and a copy button. */
function KeyLine({ label, value, name }: { label: string; value: string; name: 'ak' | 'as' | 'ck' }) {
  const { t } = useI18n();
  const [copied, setCopied] = useState(false);
  return (
    <div className="key-line">
      <dt>{label}</dt>
      <dd>
        <code data-key={name}>{value}</code>
        <button type="button" onClick={() => void copyText(value).then(setCopied)} aria-label={`${t('common.copy')} ${label}`}>
          {copied ? t('common.copied') : t('common.copy')}
        </button>
      </dd>
    </div>
  );
}

interface Issued {
  application: OvhApplication;
  consumerKey: string;
  rules: OvhRule[];
}

/**
 * The keys just made, shown once: the application key and secret of a new application, the consumer
 * key of a new credential (with a configuration to paste).
 */
function KeysPanel({
  application,
  appSecret,
  issued,
  account,
  onClose,
}: {
  application: OvhApplication;
  appSecret: string | null;
  issued: Issued | null;
  account: string | null;
  onClose(): void;
}) {
  const { t } = useI18n();
  const ref = useRef<HTMLElement>(null);
  const id = useId();
  const consumerKey = issued?.consumerKey;
  // biome-ignore lint/correctness/useExhaustiveDependencies: brought into view when a key appears
  useEffect(() => {
    ref.current?.scrollIntoView?.({ block: 'start' });
    ref.current?.focus({ preventScroll: true });
  }, [consumerKey]);
  return (
    <section ref={ref} className="card keys-panel" aria-labelledby={`${id}-title`} tabIndex={-1} data-application={application.id}>
      <h2 id={`${id}-title`}>
        {issued ? t('ovh.issued.title', { name: application.name }) : t('ovh.created.title', { name: application.name })}
      </h2>
      <p className="warning" role="status">
        <span aria-hidden="true">⚠</span>{' '}
        {appSecret && issued ? t('ovh.issued.warningAll') : appSecret ? t('ovh.created.warning') : t('ovh.issued.warning')}
      </p>
      <dl className="key-lines">
        <KeyLine label={t('ovh.ak')} value={application.appKey} name="ak" />
        {appSecret && <KeyLine label={t('ovh.as')} value={appSecret} name="as" />}
        {issued && <KeyLine label={t('ovh.ck')} value={issued.consumerKey} name="ck" />}
      </dl>
      {issued && (
        <Snippet
          appKey={application.appKey}
          appSecret={appSecret}
          consumerKey={issued.consumerKey}
          rules={issued.rules}
          account={account}
        />
      )}
      <div className="form-actions">
        <button type="button" onClick={onClose}>
          {t('ovh.panel.close')}
        </button>
      </div>
    </section>
  );
}

/** "Create a consumer key" for one application: rules (a preset or one's own), validity, allowed IPs. */
function CredentialForm({
  application,
  onIssued,
  onCancel,
}: {
  application: OvhApplication;
  onIssued(issued: Issued): void;
  onCancel(): void;
}) {
  const { t } = useI18n();
  const [preset, setPreset] = useState<Preset>('read');
  const [custom, setCustom] = useState<OvhRule[]>(PRESETS.read);
  const [validity, setValidity] = useState<OvhValidity>(null);
  const [ips, setIps] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const ref = useRef<HTMLDivElement>(null);
  const name = useId();
  const rules = preset === 'custom' ? custom : PRESETS[preset];

  useEffect(() => {
    ref.current?.scrollIntoView?.({ block: 'nearest' });
    ref.current?.querySelector<HTMLInputElement>('input:checked')?.focus({ preventScroll: true });
  }, []);

  const choose = (next: Preset) => {
    if (next === 'custom' && preset !== 'custom') setCustom(rules.map((r) => ({ ...r })));
    setPreset(next);
  };
  const setRule = (index: number, rule: Partial<OvhRule>) => setCustom(custom.map((r, i) => (i === index ? { ...r, ...rule } : r)));

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (busy) return;
    setBusy(true);
    setError(null);
    try {
      const chosen = rules.map((r) => ({ method: r.method, path: r.path.trim() }));
      const allowedIps = lines(ips);
      const answer = await api.post<{ id: number; consumerKey: string }>(`/ovh/applications/${application.id}/credentials`, {
        rules: chosen,
        validity,
        ...(allowedIps.length ? { allowedIps } : {}),
      });
      onIssued({ application, consumerKey: answer.consumerKey, rules: chosen });
    } catch (e) {
      setError(e as ApiError);
      setBusy(false);
    }
  };

  return (
    <div ref={ref} className="credential-form">
      <CardForm
        title={t('ovh.key.title', { name: application.name })}
        submitLabel={busy ? t('ovh.key.busy') : t('ovh.key.submit')}
        onSubmit={(event) => void submit(event)}
        onCancel={onCancel}
        cancelLabel={t('common.cancel')}
      >
        <fieldset className="choices">
          <legend>{t('ovh.key.rules')}</legend>
          {PRESET_NAMES.map((p) => (
            <label key={p} className="choice">
              <input type="radio" name={`${name}-preset`} value={p} checked={preset === p} onChange={() => choose(p)} />
              <span>
                <strong>{t(`ovh.preset.${p}`)}</strong> <span className="hint">{t(`ovh.preset.${p}.hint`)}</span>
              </span>
            </label>
          ))}
        </fieldset>
        {preset === 'custom' ? (
          <div className="rule-lines">
            {custom.map((rule, i) => (
              // biome-ignore lint/suspicious/noArrayIndexKey: lines are edited in place, removed by position
              <div key={i} className="rule-line">
                <label>
                  <span className="visually-hidden">{t('ovh.key.method', { n: i + 1 })}</span>
                  <select value={rule.method} onChange={(e) => setRule(i, { method: e.target.value as OvhRule['method'] })}>
                    {OVH_METHODS.map((m) => (
                      <option key={m} value={m}>
                        {m}
                      </option>
                    ))}
                  </select>
                </label>
                <label className="grow">
                  <span className="visually-hidden">{t('ovh.key.path', { n: i + 1 })}</span>
                  <input
                    className="mono"
                    required
                    maxLength={512}
                    pattern="/[^\s?#]*"
                    title={t('ovh.key.pathHint')}
                    placeholder="/sms/*"
                    value={rule.path}
                    onChange={(e) => setRule(i, { path: e.target.value })}
                  />
                </label>
                <button
                  type="button"
                  className="danger"
                  disabled={custom.length === 1}
                  onClick={() => setCustom(custom.filter((_, j) => j !== i))}
                  aria-label={t('ovh.key.removeRule', { n: i + 1 })}
                >
                  {t('ovh.key.remove')}
                </button>
              </div>
            ))}
            <p className="hint">{t('ovh.key.pathHint')}</p>
            <div>
              <button type="button" onClick={() => setCustom([...custom, { method: 'GET', path: '' }])} disabled={custom.length >= 100}>
                {t('ovh.key.addRule')}
              </button>
            </div>
          </div>
        ) : (
          <RuleCodes rules={rules} />
        )}
        <div className="form-row">
          <label>
            {t('ovh.key.validity')}
            <select
              name="validity"
              value={validity === null ? '' : String(validity)}
              onChange={(e) => setValidity(e.target.value === '' ? null : (Number(e.target.value) as OvhValidity))}
            >
              {OVH_VALIDITIES.map((v) => (
                <option key={String(v.value)} value={v.value === null ? '' : String(v.value)}>
                  {t(v.label)}
                </option>
              ))}
            </select>
            <span className="hint">{t('ovh.key.validityHint')}</span>
          </label>
          <label>
            {t('ovh.key.ips')}
            <textarea name="allowedIps" rows={2} value={ips} onChange={(e) => setIps(e.target.value)} placeholder="203.0.113.7" />
            <span className="hint">{t('ovh.key.ipsHint')}</span>
          </label>
        </div>
        <ErrorText error={error} />
      </CardForm>
    </div>
  );
}

/**
 * "API OVH": the customer's keys of the OVH-compatible API (customer-wide: a consumer key reaches every
 * SMS account of the customer). Applications (their secret shown once), consumer keys made for one's
 * own scripts (shown once, with a client configuration to paste), and the validated keys, revocable.
 */
export function OvhKeysPage() {
  const { t } = useI18n();
  const { me } = useSession();
  const applications = useResource<OvhApplication[]>('/ovh/applications');
  const credentials = useResource<OvhCredential[]>('/ovh/credentials');
  const { error, submit } = useListActions(applications);
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  /** The application just made and its secret (known only now). */
  const [fresh, setFresh] = useState<{ application: OvhApplication; appSecret: string } | null>(null);
  const [keyFor, setKeyFor] = useState<OvhApplication | null>(null);
  const [issued, setIssued] = useState<Issued | null>(null);
  const accounts = me?.accounts.map((a) => a.name) ?? [];

  // A second click while the first creation is on its way makes no second application.
  const creating = useRef(false);
  const create = submit(async () => {
    if (creating.current) return;
    creating.current = true;
    try {
      const made = await api.post<OvhApplication & { appSecret: string }>('/ovh/applications', { name, description });
      const { appSecret, ...application } = made;
      setFresh({ application, appSecret });
      setIssued(null);
      setKeyFor(application);
      setName('');
      setDescription('');
    } finally {
      creating.current = false;
    }
  });

  const onIssued = (made: Issued) => {
    setIssued(made);
    setKeyFor(null);
    applications.reload();
    credentials.reload();
  };

  // The panels of keys shown once: the new application's, and the new consumer key's when of another application.
  const sameApplication = fresh && issued && fresh.application.id === issued.application.id;

  return (
    <section className="page ovh-page">
      <h1>{t('ovh.title')}</h1>
      <p className="muted">{t('ovh.intro')}</p>
      <div className="ovh-facts">
        <p>
          {t('ovh.endpoint')} <code data-endpoint>{ovhEndpoint()}</code>
        </p>
        <p>{t('ovh.scope', { n: accounts.length, accounts: accounts.join(', ') || '—' })}</p>
      </div>
      {fresh && (
        <KeysPanel
          application={fresh.application}
          appSecret={fresh.appSecret}
          issued={sameApplication ? issued : null}
          account={accounts[0] ?? null}
          onClose={() => {
            setFresh(null);
            if (sameApplication) setIssued(null);
          }}
        />
      )}
      {issued && !sameApplication && (
        <KeysPanel
          application={issued.application}
          appSecret={null}
          issued={issued}
          account={accounts[0] ?? null}
          onClose={() => setIssued(null)}
        />
      )}
      {keyFor && <CredentialForm key={keyFor.id} application={keyFor} onIssued={onIssued} onCancel={() => setKeyFor(null)} />}

      <h2>{t('ovh.applications')}</h2>
      <ErrorText error={applications.error} />
      <ListTable
        columns={[t('ovh.app.name'), t('ovh.ak'), t('ovh.app.keys'), t('ovh.app.created')]}
        actionsLabel={t('common.actions')}
        empty={t('ovh.app.none')}
        list={applications}
        row={(a, askRemove) => (
          <tr key={a.id} data-application={a.id}>
            <td data-label={t('ovh.app.name')}>
              <div className="name-cell">
                <strong>{a.name}</strong>
                {a.description && <span className="muted name-sub">{a.description}</span>}
              </div>
            </td>
            <td className="mono" data-label={t('ovh.ak')}>
              {a.appKey}
            </td>
            <td data-label={t('ovh.app.keys')}>{a.credentials}</td>
            <td data-label={t('ovh.app.created')}>
              <When iso={a.createdAt} />
            </td>
            <td className="actions-cell">
              <button type="button" onClick={() => setKeyFor(a)} aria-label={t('ovh.app.newKeyFor', { name: a.name })}>
                {t('ovh.app.newKey')}
              </button>{' '}
              <button type="button" className="danger" aria-label={`${t('common.delete')} ${a.name}`} onClick={askRemove}>
                {t('common.delete')}
              </button>
            </td>
          </tr>
        )}
        confirm={(a) => ({
          title: t('ovh.app.deleteTitle'),
          message:
            a.credentials > 0
              ? t('ovh.app.confirmDelete', { name: a.name, n: a.credentials })
              : t('ovh.app.confirmDeleteNoKey', { name: a.name }),
          confirmLabel: t('common.delete'),
        })}
        remove={async (a) => {
          await api.delete(`/ovh/applications/${a.id}`);
          if (fresh?.application.id === a.id) setFresh(null);
          if (keyFor?.id === a.id) setKeyFor(null);
          if (issued?.application.id === a.id) setIssued(null);
          credentials.reload();
        }}
      />
      <CardForm title={t('ovh.app.create')} submitLabel={t('ovh.app.createSubmit')} onSubmit={create}>
        <div className="form-row">
          <label>
            {t('ovh.app.name')}
            <input name="name" required maxLength={100} value={name} onChange={(e) => setName(e.target.value)} />
            <span className="hint">{t('ovh.app.nameHint')}</span>
          </label>
          <label>
            {t('ovh.app.description')}
            <input name="description" maxLength={500} value={description} onChange={(e) => setDescription(e.target.value)} />
            <span className="hint">{t('ovh.app.descriptionHint')}</span>
          </label>
        </div>
        <ErrorText error={error} />
      </CardForm>

      <h2>{t('ovh.credentials')}</h2>
      <p className="muted">{t('ovh.credentialsIntro')}</p>
      <ErrorText error={credentials.error} />
      <ListTable
        columns={[
          t('ovh.cred.application'),
          t('ovh.cred.rules'),
          t('ovh.cred.ips'),
          t('ovh.cred.validated'),
          t('ovh.cred.expires'),
          t('ovh.cred.lastUsed'),
        ]}
        actionsLabel={t('ovh.cred.revoke')}
        empty={t('ovh.cred.none')}
        list={credentials}
        row={(c, askRemove) => {
          const expired = c.expiresAt !== null && new Date(c.expiresAt).getTime() <= Date.now();
          return (
            <tr key={c.id} data-credential={c.id}>
              <td data-label={t('ovh.cred.application')}>
                <div className="name-cell">
                  <strong>{c.application.name}</strong>
                  <span className="muted mono name-sub">{c.application.appKey}</span>
                </div>
              </td>
              <td data-label={t('ovh.cred.rules')}>
                <RuleCodes rules={c.rules} />
              </td>
              <td data-label={t('ovh.cred.ips')}>
                {c.allowedIps?.length ? c.allowedIps.join(', ') : <span className="muted">{t('ovh.cred.anyIp')}</span>}
              </td>
              <td data-label={t('ovh.cred.validated')}>
                <When iso={c.validatedAt} />
              </td>
              <td data-label={t('ovh.cred.expires')}>
                {c.expiresAt === null ? (
                  <span className="muted">{t('ovh.cred.never')}</span>
                ) : (
                  <>
                    <When iso={c.expiresAt} />
                    {expired && <span className="badge status-expired">{t('ovh.cred.expired')}</span>}
                  </>
                )}
              </td>
              <td data-label={t('ovh.cred.lastUsed')}>
                {c.lastUsedAt ? <When iso={c.lastUsedAt} /> : <span className="muted">{t('ovh.cred.unused')}</span>}
              </td>
              <td className="actions-cell">
                <button
                  type="button"
                  className="danger"
                  aria-label={t('ovh.cred.revokeLabel', {
                    name: c.application.name,
                    rules: c.rules.map((r) => `${r.method} ${r.path}`).join(', '),
                  })}
                  onClick={askRemove}
                >
                  {t('ovh.cred.revoke')}
                </button>
              </td>
            </tr>
          );
        }}
        confirm={(c) => ({
          title: t('ovh.cred.revokeTitle'),
          message: t('ovh.cred.confirmRevoke', { name: c.application.name, rules: c.rules.map((r) => `${r.method} ${r.path}`).join(', ') }),
          confirmLabel: t('ovh.cred.revoke'),
        })}
        remove={async (c) => {
          await api.delete(`/ovh/credentials/${c.id}`);
          applications.reload();
        }}
      />
    </section>
  );
}
