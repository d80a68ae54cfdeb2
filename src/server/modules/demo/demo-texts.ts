/**
 * The text pool of the demo history: realistic French and English business SMS, each a template with
 * variable parts. Pure functions of a random source and the message's creation time.
 */

/** A source of uniform numbers in [0, 1). */
export type Random = () => number;

/** What a template may use to fill its variable parts. */
export interface TextContext {
  rng: Random;
  /** Creation time of the message (epoch ms). */
  createdAt: number;
  /** Offset of the account's timezone at that time, in ms (local = utc + offset). */
  offsetMs: number;
}

export type Category = 'otp' | 'rappel' | 'livraison' | 'promo' | 'facture' | 'alerte' | 'service' | 'test';

export interface Template {
  render(c: TextContext): string;
}

const DAY_MS = 86_400_000;

const pick = <T>(rng: Random, items: ArrayLike<T>): T => items[Math.floor(rng() * items.length)];
const int = (rng: Random, min: number, max: number): number => min + Math.floor(rng() * (max - min + 1));
const pad2 = (n: number): string => (n < 10 ? `0${n}` : `${n}`);
const digits = (rng: Random, n: number): string => {
  let s = '';
  for (let i = 0; i < n; i++) s += Math.floor(rng() * 10);
  return s;
};
const ALNUM = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
const code = (rng: Random, n: number): string => {
  let s = '';
  for (let i = 0; i < n; i++) s += ALNUM[Math.floor(rng() * ALNUM.length)];
  return s;
};
const lowerCode = (rng: Random, n: number): string => code(rng, n).toLowerCase();

const FIRST_NAMES = [
  'Camille',
  'Léa',
  'Hugo',
  'Chloé',
  'Lucas',
  'Inès',
  'Nathan',
  'Zoé',
  'Théo',
  'Manon',
  'Jules',
  'Sarah',
  'Louis',
  'Emma',
  'Noah',
  'Jade',
  'François',
  'Hélène',
  'Mehdi',
  'Yasmine',
];
const FIRST_NAMES_EN = ['James', 'Olivia', 'Liam', 'Emily', 'Noah', 'Sophie', 'Jack', 'Grace', 'Oliver', 'Mia'];
const LAST_NAMES = [
  'Martin',
  'Bernard',
  'Dubois',
  'Lefèvre',
  'Moreau',
  'Laurent',
  'Garnier',
  'Rousseau',
  'Nguyen',
  'Girard',
  'Faure',
  'Mercier',
  'Boyer',
  'Chevalier',
  'Benoît',
  'Müller',
  'Fontaine',
];
/** Names written with GSM 03.38 characters only. */
const LAST_NAMES_GSM = ['Martin', 'Bernard', 'Dubois', 'Moreau', 'Laurent', 'Garnier', 'Rousseau', 'Nguyen', 'Girard', 'Mercier'];
const DOCTORS = ['Dr Martin', 'Dr Lefèvre', 'Dr Nguyen', 'Dr Garnier', 'Maître Rousseau', 'Dr Benoît', 'Dr Chevalier'];
const DOCTORS_EN = ['Dr Smith', 'Dr Patel', 'Dr Brown', 'Dr Wilson', 'Dr Taylor'];
const PLACES = [
  'du Parc',
  'Saint-Michel',
  'de la Gare',
  'des Lilas',
  'du Château',
  'Bellevue',
  'Victor Hugo',
  'de la Côte',
  'Montmartre',
  'des Halles',
];
const STREETS = [
  '12 rue de la République',
  '3 avenue Jean Jaurès',
  '45 boulevard Voltaire',
  '8 place du Marché',
  '27 rue Pasteur',
  '102 cours Lafayette',
  '5 impasse des Tilleuls',
];
const SHOPS = [
  'Maison Lumière',
  'Le Petit Atelier',
  'SportZone',
  'Boulangerie Paul',
  'Optique Vision',
  'Mode&Co',
  'BricoPlus',
  'Librairie Colette',
  'Fleurs de Provence',
];
const SHOPS_EN = ['Urban Outfit', 'GreenGrocer', 'TechHub', 'The Book Nook', 'FitLife'];
const BRANDS = ['Relais', 'MaBanque', 'Cloudy', 'Assurly', 'Kiwi Pay', 'Orion Santé', 'e-Mairie'];
const DOMAINS = ['boutique.fr', 'example.com', 'monmagasin.fr', 'shop.example.org', 'colis-express.fr', 'mairie-exemple.fr'];
const COMPANIES = ['Eau de Ville', 'EDF Pro', 'Assurly', 'Mutuelle Horizon', 'Crédit du Centre', 'Syndic Bellevue'];
const RESTOS = ['Le Bistrot du Coin', 'Chez Marcel', 'La Table de Léo', "L'Ardoise", 'Sakura', 'Le Comptoir'];
const RELAYS = ['Tabac Presse du Centre', 'Relais Colis – Épicerie Martin', 'Pressing Saint-Michel', 'Carrefour City Bellevue'];
const HOSTS = ['srv-web-01', 'srv-web-03', 'db-primary', 'db-replica-2', 'smtp-out', 'api-gw', 'backup-nas', 'k8s-node-7'];
const SERVICES = ['Paiement en ligne', 'Espace client', 'API publique', 'Messagerie', 'VPN'];
const INCIDENT_STATES = ['en cours', 'identifié', 'résolu', 'sous surveillance'];
const WEEKDAYS_FR = ['dimanche', 'lundi', 'mardi', 'mercredi', 'jeudi', 'vendredi', 'samedi'];
const WEEKDAYS_EN = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS_FR = ['janvier', 'février', 'mars', 'avril', 'mai', 'juin', 'juillet', 'août', 'septembre', 'octobre', 'novembre', 'décembre'];
const MONTHS_EN = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];
const PLATE_LETTERS = 'ABCDEFGHJKLMNPQRSTVWXYZ';

/** Wall-clock date parts of `createdAt + days` in the account's timezone (offset taken at creation). */
function localDate(c: TextContext, days: number): Date {
  return new Date(c.createdAt + c.offsetMs + days * DAY_MS);
}
const dayFr = (c: TextContext, days: number): string => {
  const d = localDate(c, days);
  return `${pad2(d.getUTCDate())}/${pad2(d.getUTCMonth() + 1)}`;
};
const weekdayDayFr = (c: TextContext, days: number): string => `${WEEKDAYS_FR[localDate(c, days).getUTCDay()]} ${dayFr(c, days)}`;
const dayEn = (c: TextContext, days: number): string => {
  const d = localDate(c, days);
  return `${WEEKDAYS_EN[d.getUTCDay()]}, ${MONTHS_EN[d.getUTCMonth()]} ${d.getUTCDate()}`;
};
const monthFr = (c: TextContext): string => MONTHS_FR[localDate(c, -20).getUTCMonth()];
const nowTime = (c: TextContext): string => {
  const d = localDate(c, 0);
  return `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}`;
};
const timeFr = (rng: Random): string => `${int(rng, 8, 18)}h${pick(rng, ['00', '15', '30', '45'])}`;
const timeEn = (rng: Random): string => `${int(rng, 1, 11)}:${pick(rng, ['00', '15', '30', '45'])} ${pick(rng, ['am', 'pm'])}`;
const amountFr = (rng: Random, min: number, max: number): string => `${int(rng, min, max)},${pad2(int(rng, 0, 99))}`;
const landline = (rng: Random): string => `0${int(rng, 1, 5)} ${digits(rng, 2)} ${digits(rng, 2)} ${digits(rng, 2)} ${digits(rng, 2)}`;
const plate = (rng: Random): string =>
  `${pick(rng, PLATE_LETTERS)}${pick(rng, PLATE_LETTERS)}-${digits(rng, 3)}-${pick(rng, PLATE_LETTERS)}${pick(rng, PLATE_LETTERS)}`;
const tracking = (rng: Random): string =>
  pick(rng, [`6A${digits(rng, 11)}`, `XS${digits(rng, 9)}FR`, `1Z${code(rng, 6)}${digits(rng, 10)}`]);
const otp = (rng: Random): string => digits(rng, 6);
const promoCode = (rng: Random): string => `${pick(rng, ['HIVER', 'ETE', 'NOEL', 'VIP', 'MERCI', 'FLASH', 'BF'])}${int(rng, 1, 5) * 5}`;

const t = (render: (c: TextContext) => string): Template => ({ render });

const STOP = '\nSTOP au 36180';

/** Templates per category; every category mixes French and English, short and long. */
export const TEMPLATES: Readonly<Record<Category, readonly Template[]>> = {
  otp: [
    t(({ rng }) => `Votre code de vérification est ${otp(rng)}. Il expire dans 10 minutes. Ne le communiquez à personne.`),
    t(({ rng }) => `${otp(rng)} est votre code ${pick(rng, BRANDS)}.`),
    t(({ rng }) => `Your ${pick(rng, BRANDS)} verification code is ${otp(rng)}. Do not share it with anyone.`),
    t(({ rng }) => `Code de connexion : ${otp(rng)}\nSi vous n'êtes pas à l'origine de cette demande, ignorez ce message.`),
    t(({ rng }) => `<#> ${pick(rng, BRANDS)}: ${otp(rng)} is your login code.\n${code(rng, 11)}`),
    t(({ rng }) => `${pick(rng, BRANDS)} : pour valider votre paiement de ${amountFr(rng, 5, 900)} EUR, saisissez le code ${otp(rng)}.`),
  ],
  rappel: [
    t(
      (c) =>
        `Rappel : RDV le ${dayFr(c, 1)} à ${timeFr(c.rng)} avec ${pick(c.rng, DOCTORS)}. En cas d'empêchement, merci de prévenir au ${landline(c.rng)}.`,
    ),
    t(
      (c) =>
        `Bonjour ${pick(c.rng, FIRST_NAMES)}, nous vous rappelons votre rendez-vous du ${weekdayDayFr(c, int(c.rng, 1, 3))} à ${timeFr(c.rng)} au cabinet ${pick(c.rng, PLACES)}. Répondez OUI pour confirmer ou NON pour annuler.`,
    ),
    t(
      (c) =>
        `Cabinet dentaire ${pick(c.rng, PLACES)} : votre rendez-vous est confirmé pour le ${dayFr(c, int(c.rng, 2, 14))} à ${timeFr(c.rng)}.\nMerci d'arriver 10 min en avance.`,
    ),
    t(
      (c) =>
        `Reminder: your appointment with ${pick(c.rng, DOCTORS_EN)} is on ${dayEn(c, 1)} at ${timeEn(c.rng)}. Reply C to confirm or R to reschedule.`,
    ),
    t(
      (c) =>
        `Bonjour ${pick(c.rng, FIRST_NAMES)} ${pick(c.rng, LAST_NAMES)}, le contrôle technique de votre véhicule ${plate(c.rng)} est fixé au ${weekdayDayFr(c, int(c.rng, 2, 10))} à ${timeFr(c.rng)}, Garage ${pick(c.rng, PLACES)}, ${pick(c.rng, STREETS)}. Pensez à apporter la carte grise et le précédent procès-verbal. À bientôt !`,
    ),
    t((c) => `Salon ${pick(c.rng, PLACES)} : on vous attend demain à ${timeFr(c.rng)} pour votre coupe 💇 À demain !`),
    t(
      (c) =>
        `Rendez-vous vaccination ${dayFr(c, int(c.rng, 1, 5))} ${timeFr(c.rng)}, centre ${pick(c.rng, PLACES)}. Munissez-vous de votre carte Vitale.`,
    ),
  ],
  livraison: [
    t(
      (c) =>
        `Votre colis ${tracking(c.rng)} sera livré ${pick(c.rng, ['demain', "aujourd'hui", `le ${dayFr(c, 2)}`])} entre ${int(c.rng, 8, 12)}h et ${int(c.rng, 13, 19)}h. Suivi : https://suivi.${pick(c.rng, DOMAINS)}/${lowerCode(c.rng, 6)} 📦`,
    ),
    t(
      (c) =>
        `${pick(c.rng, SHOPS)} : votre commande n°${digits(c.rng, 8)} a été expédiée ✅ Livraison prévue le ${dayFr(c, int(c.rng, 1, 4))}.`,
    ),
    t(
      (c) =>
        `Your parcel ${tracking(c.rng)} is out for delivery today. Track it: https://trk.${pick(c.rng, DOMAINS)}/${lowerCode(c.rng, 8)}`,
    ),
    t(
      (c) =>
        `Bonjour, votre livreur passera aujourd'hui entre ${int(c.rng, 8, 12)}h et ${int(c.rng, 13, 19)}h. Absent ? Reprogrammez sur https://${pick(c.rng, DOMAINS)}/r/${lowerCode(c.rng, 7)}`,
    ),
    t(
      (c) =>
        `Votre commande est disponible en point relais :\n${pick(c.rng, RELAYS)}, ${pick(c.rng, STREETS)}\nCode de retrait : ${digits(c.rng, 6)}\nÀ retirer avant le ${dayFr(c, 10)}.`,
    ),
    t(
      (c) =>
        `Colis ${tracking(c.rng)} : livraison impossible, destinataire absent. Un avis de passage a été déposé dans votre boîte aux lettres.`,
    ),
  ],
  promo: [
    t(
      (c) =>
        `${pick(c.rng, SHOPS)} : -${int(c.rng, 2, 6) * 5}% sur toute la boutique ce week-end avec le code ${promoCode(c.rng)} 🎉${STOP}`,
    ),
    t(
      (c) =>
        `SOLDES ! Jusqu'à -${int(c.rng, 3, 7) * 10}% chez ${pick(c.rng, SHOPS)} du ${dayFr(c, 1)} au ${dayFr(c, 15)}. Profitez-en vite sur ${pick(c.rng, DOMAINS)}${STOP}`,
    ),
    t((c) => `=1+1 : une paire achetée, la 2e offerte chez ${pick(c.rng, SHOPS)} ! Offre valable jusqu'au ${dayFr(c, 7)}.${STOP}`),
    t(
      (c) =>
        `@home : livraison offerte dès ${int(c.rng, 3, 10) * 10} € d'achat avec le code "${promoCode(c.rng)}" ; valable jusqu'au ${dayFr(c, 5)}.${STOP}`,
    ),
    t(
      (c) =>
        `Black Friday 🎉 -${int(c.rng, 2, 7) * 10}% sur une sélection d'articles chez ${pick(c.rng, SHOPS)} ! Offre réservée à nos clients fidèles, valable en magasin et sur ${pick(c.rng, DOMAINS)} jusqu'au ${dayFr(c, 4)} inclus, dans la limite des stocks disponibles. Code : ${promoCode(c.rng)}${STOP}`,
    ),
    t(
      (c) =>
        `${pick(c.rng, SHOPS_EN)}: ${int(c.rng, 2, 6) * 5}% off everything this weekend with code ${promoCode(c.rng)}! Shop now at ${pick(c.rng, DOMAINS)}. Reply STOP to opt out`,
    ),
    t((c) => `+${int(c.rng, 2, 5) * 10}% de points fidélité ce mois-ci chez ${pick(c.rng, SHOPS)} ! Cumulez et économisez.${STOP}`),
    t(
      (c) =>
        `-${int(c.rng, 3, 5) * 10}% ce soir seulement au ${pick(c.rng, RESTOS)} sur présentation de ce SMS. Réservez au ${landline(c.rng)}${STOP}`,
    ),
    t(
      (c) =>
        `Chère cliente, cher client,\nPour fêter nos 10 ans, ${pick(c.rng, SHOPS)} vous offre un bon d'achat de ${int(c.rng, 1, 4) * 5} € valable jusqu'au ${dayFr(c, 30)} dans tous nos magasins.\nMerci de votre fidélité !${STOP}`,
    ),
  ],
  facture: [
    t(
      (c) =>
        `Bonjour, votre facture de ${monthFr(c)} d'un montant de ${amountFr(c.rng, 9, 250)} € est disponible dans votre espace client.`,
    ),
    t(
      (c) =>
        `${pick(c.rng, COMPANIES)} : votre prélèvement de ${amountFr(c.rng, 15, 480)} € aura lieu le ${dayFr(c, int(c.rng, 2, 9))}. Référence : ${code(c.rng, 3)}-${digits(c.rng, 6)}`,
    ),
    t(
      (c) =>
        `Payment reminder: invoice INV-${digits(c.rng, 6)} (${int(c.rng, 20, 2000)}.${pad2(int(c.rng, 0, 99))} EUR) is due on ${dayEn(c, 7)}. Pay online at https://pay.${pick(c.rng, DOMAINS)}/${lowerCode(c.rng, 8)}`,
    ),
    t((c) => `Reçu : paiement de ${amountFr(c.rng, 5, 300)} € reçu le ${dayFr(c, 0)}, merci ! Réf. ${code(c.rng, 8)}`),
    t(
      (c) =>
        `${pick(c.rng, COMPANIES)} : votre échéance du ${dayFr(c, 3)} est impayée ; merci de régulariser sous 8 jours. Contact : ${landline(c.rng)}`,
    ),
    t(
      (c) =>
        `Dear customer, your ${pick(c.rng, BRANDS)} subscription renews automatically on ${dayEn(c, 10)} for ${int(c.rng, 5, 99)}.99 EUR. To change your plan or cancel, sign in at https://${pick(c.rng, DOMAINS)}/account or call +33 1 ${digits(c.rng, 2)} ${digits(c.rng, 2)} ${digits(c.rng, 2)} ${digits(c.rng, 2)}. Thank you for being with us!`,
    ),
  ],
  alerte: [
    t((c) => `ALERTE ${pick(c.rng, HOSTS)} : CPU à ${int(c.rng, 91, 100)}% depuis ${nowTime(c)} (seuil 90%)`),
    t((c) => `[PROD] ${pick(c.rng, HOSTS)} DOWN since ${nowTime(c)} - check_http: CRITICAL - Socket timeout after 10 seconds`),
    t((c) => `RESOLVED: ${pick(c.rng, HOSTS)} disk /var ${int(c.rng, 60, 79)}% - back below threshold`),
    t((c) => `=SUM(A1:A3) error in nightly report RPT-${digits(c.rng, 5)}; see https://ci.${pick(c.rng, DOMAINS)}/job/${digits(c.rng, 4)}`),
    t(
      (c) =>
        `Incident #${digits(c.rng, 5)}\nService : ${pick(c.rng, SERVICES)}\nStatut : ${pick(c.rng, INCIDENT_STATES)}\nDébut : ${nowTime(c)}`,
    ),
    t((c) => `Sauvegarde ${pick(c.rng, HOSTS)} : ÉCHEC (code ${int(c.rng, 1, 12)}) à ${nowTime(c)}. Voir le journal "backup.log".`),
  ],
  service: [
    t((c) => `Votre véhicule ${plate(c.rng)} est prêt. Vous pouvez le récupérer au garage ${pick(c.rng, PLACES)} jusqu'à 19h.`),
    t((c) => `Pharmacie ${pick(c.rng, PLACES)} : votre commande est prête. Elle vous attend jusqu'au ${dayFr(c, 7)}.`),
    t(
      (c) =>
        `${pick(c.rng, RESTOS)} : votre table pour ${int(c.rng, 2, 8)} personnes est réservée le ${dayFr(c, int(c.rng, 0, 6))} à ${int(c.rng, 19, 21)}h${pick(c.rng, ['00', '30'])}. À très bientôt !`,
    ),
    t((c) => `Bienvenue chez ${pick(c.rng, BRANDS)} ! Votre compte est activé ✅`),
    t(
      (c) =>
        `Chère cliente, cher client, suite à une intervention sur le réseau, l'eau sera coupée le ${dayFr(c, int(c.rng, 2, 6))} de 8h30 à 12h dans votre rue (${pick(c.rng, STREETS)}). Nous vous prions de nous excuser pour la gêne occasionnée. ${pick(c.rng, COMPANIES)}`,
    ),
    t(
      (c) =>
        `École ${pick(c.rng, PLACES)} : la sortie scolaire du ${dayFr(c, int(c.rng, 1, 6))} est reportée en raison de la météo. Merci de votre compréhension.`,
    ),
    t((c) => `Hôtel ${pick(c.rng, PLACES)} : votre chambre est prête, code d'accès ${digits(c.rng, 4)}#. Bon séjour !`),
    t(
      (c) =>
        `Merci pour votre visite chez ${pick(c.rng, SHOPS)} ! Donnez-nous votre avis en 30 s : https://${pick(c.rng, DOMAINS)}/avis/${lowerCode(c.rng, 6)} 🙂`,
    ),
    t(
      (c) =>
        `Hi ${pick(c.rng, FIRST_NAMES_EN)}, your table for ${int(c.rng, 2, 6)} at ${pick(c.rng, RESTOS)} is confirmed for ${dayEn(c, int(c.rng, 0, 5))} at ${timeEn(c.rng)}.`,
    ),
    t(
      (c) =>
        `Votre conseiller ${pick(c.rng, FIRST_NAMES)} vous a laissé un message. Rappelez-le au ${landline(c.rng)} (du lundi au vendredi, 9h-18h).`,
    ),
    t(
      (c) =>
        `Mairie : les inscriptions à la cantine pour ${pick(c.rng, ['septembre', 'janvier', 'la rentrée'])} sont ouvertes jusqu'au ${dayFr(c, 14)} sur ${pick(c.rng, DOMAINS)}. Pièces : justificatif de domicile, attestation CAF.`,
    ),
    t(
      (c) =>
        `Votre demande n°${digits(c.rng, 7)} a bien été reçue ; un technicien vous contactera sous 48 h.\nService client ${pick(c.rng, BRANDS)}`,
    ),
    t(
      (c) =>
        `Bonjour ${pick(c.rng, LAST_NAMES_GSM)}, votre dossier ${digits(c.rng, 6)} est complet. Votre conseiller vous appellera le ${dayFr(c, int(c.rng, 1, 5))} entre 9h et 12h pour finaliser la souscription. Pensez à préparer votre RIB et une pièce d'identité en cours de validité. Merci de votre confiance.`,
    ),
  ],
  test: [
    t(() => 'test'),
    t(() => 'Test SMS Relais'),
    t(() => 'Ceci est un test 1, 2, 3…'),
    t((c) => `Test envoi ${nowTime(c)} ça marche ?`),
    t(() => 'Hello from Relais 👋'),
  ],
};

/** The tag of a message of `category`: some categories always tagged, others sometimes, promotions per month. */
export function tagFor(category: Category, c: TextContext): string {
  const r = c.rng();
  switch (category) {
    case 'otp':
      return r < 0.9 ? 'otp' : '';
    case 'rappel':
      return r < 0.7 ? 'rappel' : '';
    case 'livraison':
      return r < 0.5 ? 'livraison' : '';
    case 'promo': {
      if (r >= 0.85) return '';
      const d = localDate(c, 0);
      return `promo-${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}`;
    }
    case 'facture':
      return r < 0.4 ? 'facture' : '';
    case 'alerte':
      return r < 0.8 ? 'monitoring' : '';
    default:
      return '';
  }
}
