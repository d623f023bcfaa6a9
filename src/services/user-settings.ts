import type { Database } from '../db/database.js';
import * as repo from '../db/repositories/user-settings.js';
import { invalidFields } from '../domain/errors.js';
import { coerceUserSetting, findUserSetting, USER_SETTINGS, type UserSettingValue } from '../domain/user-settings.js';

export type UserSettings = Record<string, UserSettingValue>;

/** Every setting of the catalogue for the member: the stored value, else the default. */
export async function getUserSettings(db: Database, userId: number): Promise<UserSettings> {
  const stored = new Map((await repo.listStored(db, userId)).map((row) => [row.name, row.value]));
  const settings: UserSettings = {};
  for (const definition of USER_SETTINGS) {
    settings[definition.name] = coerceUserSetting(stored.get(definition.name)) ?? definition.default;
  }
  return settings;
}

/** Changes some settings, all or nothing; unknown names and bad values are 400s naming the field. */
export async function patchUserSettings(db: Database, userId: number, body: Record<string, unknown>) {
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
  return getUserSettings(db, userId);
}
