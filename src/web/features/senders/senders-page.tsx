import { useState } from 'react';
import { accountPath, api } from '../../api.js';
import { ErrorText, When } from '../../components.js';
import { useI18n } from '../../i18n.js';
import { CardForm, ListTable, useListActions } from '../../list-page.js';
import type { Sender } from '../../types.js';
import { useResource } from '../../use-resource.js';

/** Senders: the `from` values the account may use; add, enable or disable, delete. */
export function SendersPage({ account }: { account: string }) {
  const { t } = useI18n();
  const path = accountPath(account, '/senders');
  const senders = useResource<Sender[]>(path);
  const { error, act, submit } = useListActions(senders);
  const [sender, setSender] = useState('');
  const [description, setDescription] = useState('');

  const add = submit(async () => {
    await api.post(path, { sender, description });
    setSender('');
    setDescription('');
  });
  const one = (s: Sender) => `${path}/${encodeURIComponent(s.sender)}`;

  return (
    <section className="page">
      <h1>{t('senders.title')}</h1>
      <ErrorText error={senders.error ?? error} />
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
              <When iso={s.createdAt} />
            </td>
            <td className="actions-cell">
              {(s.status === 'enable' || s.status === 'disable') && (
                <button
                  type="button"
                  onClick={() => void act(() => api.patch(one(s), { status: s.status === 'enable' ? 'disable' : 'enable' }))}
                >
                  {s.status === 'enable' ? t('senders.disable') : t('senders.enable')}
                </button>
              )}{' '}
              <button type="button" className="danger" aria-label={`${t('common.delete')} ${s.sender}`} onClick={askRemove}>
                {t('common.delete')}
              </button>
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
          <label>
            {t('senders.sender')}
            <input name="sender" required maxLength={15} value={sender} onChange={(e) => setSender(e.target.value)} />
            <span className="hint">{t('senders.senderHint')}</span>
          </label>
          <label>
            {t('senders.description')}
            <input name="description" maxLength={200} value={description} onChange={(e) => setDescription(e.target.value)} />
          </label>
        </div>
      </CardForm>
    </section>
  );
}
