import { hash, verify } from '@node-rs/argon2';
import type { Database } from '../db/database.js';
import * as users from '../db/repositories/users.js';
import type { NewUser, UserRow } from '../db/schema.js';
import { invalidFields } from '../domain/errors.js';

/** The SelfCommunity password rule: 8 to 128 characters, at least 3 of the 4 kinds. */
export function passwordProblem(password: string): string | undefined {
  if (password.length < 8 || password.length > 128) return 'The password must be 8 to 128 characters long.';
  const kinds = [/[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/].filter((re) => re.test(password)).length;
  if (kinds < 3) {
    return 'The password must contain at least 3 of: lower case letters, upper case letters, numbers, special characters.';
  }
  return undefined;
}

export const hashPassword = (password: string) => hash(password);

export async function checkPassword(user: UserRow, password: string): Promise<boolean> {
  if (!user.password_hash) return false;
  try {
    return await verify(user.password_hash, password);
  } catch {
    return false;
  }
}

export interface CreateUserInput {
  username: string;
  email?: string | null | undefined;
  ext_id?: string | null | undefined;
  password?: string | undefined;
  role?: UserRow['role'] | undefined;
  real_name?: string | undefined;
  avatar?: string | null | undefined;
}

const UNIQUE_MESSAGES = {
  username: 'A user with that username already exists.',
  email: 'A user with that email already exists.',
  ext_id: 'A user with that ext_id already exists.',
} as const;

/** Creates a user after the checks of the signup pages; duplicate names are a 400 naming the field. */
export async function createUser(db: Database, input: CreateUserInput): Promise<UserRow> {
  const fieldErrors: Record<string, string[]> = {};
  if (input.password !== undefined) {
    const problem = passwordProblem(input.password);
    if (problem) fieldErrors.password = [problem];
  }
  const taken = await users.findTaken(db, input);
  for (const field of taken) fieldErrors[field] = [UNIQUE_MESSAGES[field]];
  if (Object.keys(fieldErrors).length > 0) throw invalidFields(fieldErrors);

  const row: NewUser = {
    username: input.username,
    email: input.email ?? null,
    ext_id: input.ext_id ?? null,
    role: input.role ?? null,
    password_hash: input.password !== undefined ? await hashPassword(input.password) : null,
    avatar: input.avatar ?? null,
    cover: null,
    date_of_birth: null,
    ...(input.real_name !== undefined ? { real_name: input.real_name } : {}),
  };
  try {
    return await users.insertUser(db, row);
  } catch (error) {
    // Two signups racing for one name: the unique index decides, the loser gets the same 400.
    const constraint = uniqueViolation(error);
    if (constraint) {
      const field = constraint.includes('email') ? 'email' : constraint.includes('ext_id') ? 'ext_id' : 'username';
      throw invalidFields({ [field]: [UNIQUE_MESSAGES[field]] });
    }
    throw error;
  }
}

function uniqueViolation(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && (error as { code?: string }).code === '23505') {
    return String((error as { constraint?: string }).constraint ?? (error as { message?: string }).message ?? '');
  }
  return undefined;
}
