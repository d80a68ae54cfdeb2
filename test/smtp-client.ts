import nodemailer from 'nodemailer';

// A real SMTP client (nodemailer) for the mail2sms tests: one mail, the server's answer.

export type MailOptions = Parameters<ReturnType<typeof nodemailer.createTransport>['sendMail']>[0];

/** The server's answer: 250 with the job it made (from "job N" in the reply), or the refusal's code and text. */
export type Sent = { ok: true; response: string; jobId: number } | { ok: false; code: number | undefined; response: string };

/** Sends `mail` (to email2sms@relais.test by default) over plain SMTP to 127.0.0.1:`port`. */
export async function mailVia(port: number, mail: MailOptions, transport: object = {}): Promise<Sent> {
  const t = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true, ...transport });
  try {
    const info = await t.sendMail({ from: 'app@example.com', to: 'email2sms@relais.test', ...mail });
    return { ok: true, response: info.response, jobId: Number(/job (\d+)/.exec(info.response)?.[1]) };
  } catch (error) {
    const e = error as { responseCode?: number; response?: string; message: string };
    return { ok: false, code: e.responseCode, response: e.response ?? e.message };
  } finally {
    t.close();
  }
}
