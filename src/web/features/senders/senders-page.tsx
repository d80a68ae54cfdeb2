import { useId, useState } from 'react';
import { accountPath, api } from '../../api.js';
import { AccountNotFound, ErrorText, When } from '../../components.js';
import { isAccountMissing } from '../../errors.js';
import { useI18n } from '../../i18n.js';
import { CardForm, ListTable, useListActions } from '../../list-page.js';
import { useAccountSummary } from '../../session.js';
import type { Sender } from '../../types.js';
import { useResource } from '../../use-resource.js';

/** Senders: the `from` values the account may use; add, enable or disable, delete. */
export function SendersPage({ account }: { account: string }) {
  const { t } = useI18n();
  const path = accountPath(account, '/senders');
  const senders = useResource<Sender[]>(path);
  const zone = useAccountSummary(account)?.timezone;
  // The form's refusal shows in the form; an enable/disable's, above the list.
  const form = useListActions(senders);
  const rows = useListActions(senders);
  const [sender, setSender] = useState('');
  const [description, setDescription] = useState('');
  /** The sender of the last addition asked for (its refusal names it). */
  const [asked, setAsked] = useState('');
  const id = useId();

  const add = form.submit(async () => {
    setAsked(sender);
    await api.post(path, { sender, description });
    setSender('');
    setDescription('');
  });
  const one = (s: Sender) => `${path}/${encodeURIComponent(s.sender)}`;

  if (isAccountMissing(senders.error)) return <AccountNotFound title={t('senders.title')} />;

  return (
    <section className="page">
      <h1>{t('senders.title')}</h1>
      <ErrorText error={senders.error ?? rows.error} />
      <ListTable
        columns={[t('senders.sender'), t('senders.description'), t('senders.type'), t('senders.status'), t('tokens.created')]}
        actionsLabel={t('common.delete')}
        empty={t('senders.none')}
        list={senders}
        row={(s, askRemove) => (
          <tr key={s.sender} data-sender={s.sender}>
            <td data-label={t('senders.sender')}>
              <strong>{s.sender}</strong>
            </td>
            <td data-label={t('senders.description')}>{s.description}</td>
            <td data-label={t('senders.type')}>{s.type}</td>
            <td data-label={t('senders.status')}>{t(`senders.status.${s.status}`)}</td>
            <td data-label={t('tokens.created')}>
              <When iso={s.createdAt} zone={zone} />
            </td>
            <td className="actions-cell">
              {(s.status === 'enable' || s.status === 'disable') && (
                <button
                  type="button"
                  onClick={() => void rows.act(() => api.patch(one(s), { status: s.status === 'enable' ? 'disable' : 'enable' }))}
                >
                  {s.status === 'enable' ? t('senders.disable') : t('senders.enable')}
                </button>
              )}{' '}
              {/* A refused sender stays: only the operator removes it (the server refuses). One awaiting validation may be withdrawn. */}
              {s.status !== 'refused' && (
                <button type="button" className="danger" aria-label={`${t('common.delete')} ${s.sender}`} onClick={askRemove}>
                  {t('common.delete')}
                </button>
              )}
            </td>
          </tr>
        )}
        confirm={(s) => ({
          title: t('senders.deleteTitle'),
          message: t('senders.confirmDelete', { sender: s.sender }),
          confirmLabel: t('common.delete'),
        })}
        remove={(s) => api.delete(one(s))}
      />
      <CardForm title={t('senders.add')} submitLabel={t('senders.add')} onSubmit={add}>
        <div className="form-row">
          <div className="form-field">
            <label htmlFor={`${id}-sender`}>{t('senders.sender')}</label>
            {/* No maxLength: a pasted number one digit too long would be cut into another, valid, number. The server refuses it. */}
            <input
              id={`${id}-sender`}
              name="sender"
              required
              value={sender}
              onChange={(e) => setSender(e.target.value)}
              aria-describedby={`${id}-sender-hint${form.error ? ` ${id}-error` : ''}`}
              aria-invalid={form.error ? true : undefined}
            />
            <span className="hint" id={`${id}-sender-hint`}>
              {t('senders.senderHint')}
            </span>
          </div>
          <label>
            {t('senders.description')}
            <input name="description" maxLength={200} value={description} onChange={(e) => setDescription(e.target.value)} />
          </label>
        </div>
        <ErrorText
          error={form.error}
          id={`${id}-error`}
          hints={{
            INVALID_SENDER: t('senders.invalid', { sender: asked }),
            SENDER_EXISTS: t('senders.exists', { sender: asked }),
          }}
        />
      </CardForm>
    </section>
  );
}
