import type { Database } from '../db/database.js';
import * as repo from '../db/repositories/user-settings.js';
import { findById } from '../db/repositories/users.js';
import { forbidden, invalid, invalidFields, notFound } from '../domain/errors.js';
import { coerceUserSetting, findUserSetting, USER_SETTINGS, type UserSettingValue } from '../domain/user-settings.js';
import { isSelfOrAdmin } from '../domain/users.js';

export type UserSettings = Record<string, UserSettingValue>;

/** A member's settings are theirs (and an admin's) to read and change: 403 before 404. */
async function checkOwner(db: Database, viewer: { id: number; role: string | null }, userId: number) {
  if (!isSelfOrAdmin(viewer, userId)) throw forbidden('You may only see your own settings.');
  const user = await findById(db, userId);
  if (!user?.is_active) throw notFound('User not found.');
}

/** Every setting of the catalogue for the member (as the member or an admin sees them). */
export async function getUserSettings(
  db: Database,
  viewer: { id: number; role: string | null },
  userId: number,
): Promise<UserSettings> {
  await checkOwner(db, viewer, userId);
  return readSettings(db, userId);
}

/** Every setting of the catalogue for the member: the stored value, else the default. */
async function readSettings(db: Database, userId: number): Promise<UserSettings> {
  const stored = new Map((await repo.listStored(db, userId)).map((row) => [row.name, row.value]));
  const settings: UserSettings = {};
  for (const definition of USER_SETTINGS) {
    settings[definition.name] = coerceUserSetting(stored.get(definition.name)) ?? definition.default;
  }
  return settings;
}

/** Changes some of the member's settings (the member or an admin), all or nothing; unknown names and bad values are 400s naming the field. */
export async function patchUserSettings(
  db: Database,
  viewer: { id: number; role: string | null },
  userId: number,
  body: Record<string, unknown> | undefined,
) {
  await checkOwner(db, viewer, userId);
  if (!body || Object.keys(body).length === 0) throw invalid('The body names no setting.');
  const errors: Record<string, string[]> = {};
  const values: Array<{ name: string; value: UserSettingValue }> = [];
  for (const [name, raw] of Object.entries(body)) {
    if (!findUserSetting(name)) {
      errors[name] = ['Unknown setting.'];
      continue;
    }
    const value = coerceUserSetting(raw);
    if (value === undefined) errors[name] = ['Must be 0 or 1.'];
    else values.push({ name, value });
  }
  if (Object.keys(errors).length > 0) throw invalidFields(errors);
  await repo.store(db, userId, values);
  return readSettings(db, userId);
}
