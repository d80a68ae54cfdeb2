import type { Clock } from '../../clock.js';
import { AppError } from '../../errors.js';
import { checkOneLine, excerpt } from '../../input-text.js';
import { givenOrGenerated, type PasswordHasher } from '../auth/password.js';
import type { Customer, CustomersRepository } from './customers.repository.js';

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** An e-mail as stored and looked up: trimmed, lower-case. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** Throws VALIDATION_FAILED unless `password` is acceptable for a customer or an SMS user. */
export function checkPassword(password: string): void {
  if (password.length < 8 || password.length > 256) throw new AppError('VALIDATION_FAILED', 'A password must be 8 to 256 characters long');
}

/** Customers (people who sign in to the Manager). Created by the operator (`relais customer create`). */
export function createCustomersService(deps: { customers: CustomersRepository; hasher: PasswordHasher; clock: Clock }) {
  const { customers, hasher, clock } = deps;
  async function getByEmail(email: string): Promise<Customer> {
    const customer = await customers.findByEmail(normalizeEmail(email));
    if (!customer) throw new AppError('CUSTOMER_NOT_FOUND', `No customer with e-mail ${excerpt(email)}`);
    return customer;
  }
  return {
    async create(input: { email: string; password: string }): Promise<Customer> {
      const email = checkOneLine('An e-mail address', normalizeEmail(input.email));
      if (email.length > 254 || !EMAIL.test(email))
        throw new AppError('VALIDATION_FAILED', `Invalid e-mail address "${excerpt(input.email)}": expected name@domain.tld`);
      checkPassword(input.password);
      return customers.insert({ email, passwordHash: await hasher.hash(input.password), createdAt: clock.now() });
    },

    /** Whether any customer exists yet. */
    async any(): Promise<boolean> {
      return customers.any();
    },

    /** Every customer (the operator's, from the command line). */
    async list(): Promise<Customer[]> {
      return customers.list();
    },

    /**
     * Sets a customer's password (the operator's: a forgotten password), `password` or a generated one
     * (returned once), and ends every session they had, in every process (sessions are read from the
     * database at each request).
     */
    async setPassword(email: string, password?: string): Promise<{ customer: Customer; password?: string }> {
      const customer = await getByEmail(email);
      const { password: chosen, generated } = givenOrGenerated(password);
      checkPassword(chosen);
      if (!(await customers.setPasswordEndingSessions(customer.id, await hasher.hash(chosen))))
        throw new AppError('CUSTOMER_NOT_FOUND', `No customer with e-mail ${excerpt(email)}`);
      return generated === undefined ? { customer } : { customer, password: generated };
    },

    getByEmail,
  };
}

export type CustomersService = ReturnType<typeof createCustomersService>;
