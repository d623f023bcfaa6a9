import { type CaseWorld, get, type LoadCase, rotate } from './case.js';
import { walkList } from './walk.js';

/** Switches the community's mode through the API, as an admin does: PATCH /dynamic_preference/. */
async function setFollowMode({ base, tokens, dataset }: CaseWorld, enabled: boolean): Promise<void> {
  const response = await fetch(`${base}/api/v2/dynamic_preference/`, {
    method: 'PATCH',
    headers: { authorization: tokens.get(dataset.adminId)!, 'content-type': 'application/json' },
    body: JSON.stringify({ follow_enabled: enabled }),
  });
  if (!response.ok) throw new Error(`follow_enabled → ${enabled}: ${response.status} ${await response.text()}`);
}

/**
 * A case run in follow mode (the follow lists answer only there): switched on before its warm-up,
 * back to friendship mode after its run, and again at the end of the bench should the run fail
 * in between, so the other cases and later runs see the dataset's own mode.
 */
function inFollowMode(world: CaseWorld, c: LoadCase): LoadCase {
  return {
    ...c,
    setup: async () => {
      await setFollowMode(world, true);
      await c.setup?.();
    },
    finish: async () => {
      try {
        return await c.finish?.();
      } finally {
        await setFollowMode(world, false);
      }
    },
    teardown: () => setFollowMode(world, false),
  };
}

const followersOf = (id: number) => `/api/v2/user/${id}/followers/?limit=20`;

/** Case 8: the first page of the most followed member's followers, looked at by many members in turn. */
export function followersFirstPage(world: CaseWorld): LoadCase {
  const { followed, typicalIds } = world.dataset;
  return inFollowMode(world, {
    id: '8',
    title: `followers, celebrity (${followed.followers}), offset 0, ${typicalIds.length} viewers in rotation`,
    requests: () => {
      const viewer = rotate(typicalIds);
      return [{ setupRequest: (req) => ({ ...req, ...get(followersOf(followed.id), world.tokens.get(viewer())!) }) }];
    },
  });
}

/** Case 9: a deep page of the celebrity's followers, reached by offset (90% of the way down). */
export function followersDeepPage(world: CaseWorld): LoadCase {
  const { followed, typicalIds } = world.dataset;
  const deep = Math.floor((followed.followers * 0.9) / 20) * 20;
  return inFollowMode(world, {
    id: '9',
    title: `followers, celebrity, offset ${deep} (90%)`,
    requests: () => {
      const viewer = rotate(typicalIds);
      const path = `${followersOf(followed.id)}&offset=${deep}`;
      return [{ setupRequest: (req) => ({ ...req, ...get(path, world.tokens.get(viewer())!) }) }];
    },
  });
}

/** Case 9b: the celebrity's followers walked along `next` links (as case 4b), one viewer per walker. */
export function followersWalk(world: CaseWorld): LoadCase {
  const { followed, typicalIds } = world.dataset;
  const viewer = rotate(typicalIds);
  const walk = walkList({
    firstPage: followersOf(followed.id),
    total: followed.followers,
    connections: world.connections,
    auth: () => world.tokens.get(viewer())!,
  });
  return inFollowMode(world, {
    id: '9b',
    title: 'followers, celebrity, following `next` links',
    requests: walk.requests,
    finish: walk.note,
  });
}
