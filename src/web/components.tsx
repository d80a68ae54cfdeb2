import { useState } from 'react';
import { useI18n } from './i18n.js';
import { copyText } from './use-resource.js';

/** A secret shown once (generated password, API token), with a copy button. */
export function OnceSecret({ label, value }: { label: string; value: string }) {
  const { t } = useI18n();
  const [copied, setCopied] = useState(false);
  return (
    <div className="secret" role="status">
      <span>{label}</span>
      <code data-secret>{value}</code>
      <button type="button" onClick={() => void copyText(value).then(setCopied)}>
        {copied ? t('common.copied') : t('common.copy')}
      </button>
    </div>
  );
}

export function ErrorText({ error }: { error: { message: string } | null }) {
  const { t } = useI18n();
  if (!error) return null;
  return (
    <p className="error" role="alert">
      {t('common.error', { message: error.message })}
    </p>
  );
}

/** A time from the accounts API (ISO UTC) shown in the browser's locale. */
export function When({ iso }: { iso: string | null }) {
  const { lang } = useI18n();
  if (!iso) return <span className="muted">—</span>;
  return (
    <time dateTime={iso}>
      {new Date(iso).toLocaleString(lang === 'fr' ? 'fr-FR' : 'en-GB', { dateStyle: 'short', timeStyle: 'short' })}
    </time>
  );
}
