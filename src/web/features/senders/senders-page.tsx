import { type FormEvent, useState } from 'react';
import { type ApiError, accountPath, api } from '../../api.js';
import { ConfirmDialog, ErrorText, When } from '../../components.js';
import { useI18n } from '../../i18n.js';
import type { Sender } from '../../types.js';
import { useResource } from '../../use-resource.js';

/** Senders: the `from` values the account may use; add, enable or disable, delete. */
export function SendersPage({ account }: { account: string }) {
  const { t } = useI18n();
  const path = accountPath(account, '/senders');
  const senders = useResource<Sender[]>(path);
  const [sender, setSender] = useState('');
  const [description, setDescription] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  const [deleting, setDeleting] = useState<Sender | null>(null);

  const act = async (work: () => Promise<unknown>) => {
    setError(null);
    try {
      await work();
      senders.reload();
    } catch (e) {
      setError(e as ApiError);
    }
  };
  const add = (event: FormEvent) => {
    event.preventDefault();
    void act(async () => {
      await api.post(path, { sender, description });
      setSender('');
      setDescription('');
    });
  };
  const one = (s: Sender) => `${path}/${encodeURIComponent(s.sender)}`;

  return (
    <section className="page">
      <h1>{t('senders.title')}</h1>
      <ErrorText error={senders.error ?? error} />
      <div className="table-wrap">
        <table className="list">
          <thead>
            <tr>
              <th scope="col">{t('senders.sender')}</th>
              <th scope="col">{t('senders.description')}</th>
              <th scope="col">{t('senders.type')}</th>
              <th scope="col">{t('senders.status')}</th>
              <th scope="col">{t('tokens.created')}</th>
              <th scope="col">
                <span className="visually-hidden">{t('common.delete')}</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {senders.data?.length === 0 && (
              <tr>
                <td colSpan={6} className="muted">
                  {t('senders.none')}
                </td>
              </tr>
            )}
            {senders.data?.map((s) => (
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
                  <button type="button" className="danger" aria-label={`${t('common.delete')} ${s.sender}`} onClick={() => setDeleting(s)}>
                    {t('common.delete')}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {deleting && (
        <ConfirmDialog
          title={t('senders.deleteTitle')}
          message={t('senders.confirmDelete', { sender: deleting.sender })}
          confirmLabel={t('common.delete')}
          onCancel={() => setDeleting(null)}
          onConfirm={async () => {
            await api.delete(one(deleting));
            setDeleting(null);
            senders.reload();
          }}
        />
      )}
      <form className="form card" onSubmit={add}>
        <h2>{t('senders.add')}</h2>
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
        <div>
          <button type="submit" className="primary">
            {t('senders.add')}
          </button>
        </div>
      </form>
    </section>
  );
}
