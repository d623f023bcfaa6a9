/**
 * A member's own settings, as SelfCommunity's clients read them from GET /api/v2/user/{id}/settings/.
 * Only settings that mean something with kith are listed: the two that SelfCommunity's web client
 * itself acts on (its notification popups). Values are 0 or 1, as SelfCommunity sends them.
 */
export interface UserSettingDefinition {
  name: string;
  default: 0 | 1;
  help: string;
}

export const USER_SETTINGS: readonly UserSettingDefinition[] = [
  {
    name: 'show_toast_notifications',
    default: 1,
    help: 'Show a popup when a notification arrives over the realtime channel.',
  },
  {
    name: 'toast_notifications_emit_sound',
    default: 1,
    help: 'Play a sound with that popup.',
  },
];

export type UserSettingValue = 0 | 1;

const BY_NAME = new Map(USER_SETTINGS.map((s) => [s.name, s]));

export function findUserSetting(name: string): UserSettingDefinition | undefined {
  return BY_NAME.get(name);
}

/** Accepts 0/1, booleans and their string forms (SelfCommunity's settings form sends "0"/"1"). */
export function coerceUserSetting(raw: unknown): UserSettingValue | undefined {
  if (raw === 1 || raw === true || raw === '1' || raw === 'true') return 1;
  if (raw === 0 || raw === false || raw === '0' || raw === 'false') return 0;
  return undefined;
}
