import { type FormEvent, useId, useState } from 'react';
import { ErrorText } from '../../components.js';
import { useI18n } from '../../i18n.js';
import { LangSwitch } from '../../layout.js';
import { useSession } from '../../session.js';

/** The customer's sign-in (e-mail and password); the page they asked for shows once signed in. */
export function SignInPage({ notice }: { /** Why signing in is asked for here (a validation link). */ notice?: string } = {}) {
  const { t } = useI18n();
  const session = useSession();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  /** The refusal as answered (said in the language shown, whenever it changes). */
  const [error, setError] = useState<unknown>(null);
  const errorId = useId();
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await session.signIn(email, password);
    } catch (e) {
      setError(e ?? new Error('failed'));
      setBusy(false);
    }
  };

  return (
    <main className="sign-in" id="main">
      <div className="sign-in-card">
        <div className="sign-in-head">
          <span className="brand">
            <span className="brand-mark" aria-hidden="true">
              ◆
            </span>{' '}
            {t('app.name')}
          </span>
          <LangSwitch />
        </div>
        <h1>{t('signIn.title')}</h1>
        {notice && <p className="sign-in-notice">{notice}</p>}
        <form onSubmit={submit} className="form">
          <label>
            {t('signIn.email')}
            <input
              type="email"
              name="email"
              autoComplete="username"
              required
              value={email}
              onChange={(e) => setEmail(e.target.value)}
              aria-invalid={error ? true : undefined}
              aria-describedby={error ? errorId : undefined}
            />
          </label>
          <label>
            {t('signIn.password')}
            <input
              type="password"
              name="password"
              autoComplete="current-password"
              required
              value={password}
              onChange={(e) => setPassword(e.target.value)}
              aria-invalid={error ? true : undefined}
              aria-describedby={error ? errorId : undefined}
            />
          </label>
          {/* A wrong e-mail or password, or one the server refuses as malformed: one sentence for both. */}
          <ErrorText
            error={error}
            id={errorId}
            hints={{ INVALID_CREDENTIALS: t('signIn.failed'), VALIDATION_FAILED: t('signIn.failed') }}
          />
          <button type="submit" className="primary" disabled={busy}>
            {busy ? t('signIn.busy') : t('signIn.submit')}
          </button>
        </form>
      </div>
    </main>
  );
}
