// SelfCommunity's published widgets, unchanged, against a kith server.
//
// Where kith is: `?portal=https://kith.example.org` in the address, else VITE_KITH_URL at build time, else this
// page's own origin (the dev server and `vite preview` proxy /api, /oauth and /ws to kith).
// Who is signed in: `#token=<access token>` in the address (kept for this tab only), else VITE_KITH_TOKEN,
// else the sign-in form below (the OAuth password grant of kith's /oauth/token/).
// What is shown: the signed-in member's connections, or with `?profile=<user id>` that member's profile, or
// with `?follow=<user id>` (a community in follow mode) that member's followers and followings and a button
// to follow them, or with `?block=<user id>` that member's action menu (Block / Unblock user) and blocked notice,
// or with `?people=1` the people suggested to the member and a picker that finds members by name.
import { SCContextProvider, useSCFetchUser, useSCUser } from '@selfcommunity/react-core';
import {
  FollowUserButton,
  UserConnectionsRequestsSentWidget,
  UserConnectionsRequestsWidget,
  UserConnectionsWidget,
  UserFollowedUsersWidget,
  UserActionIconButton,
  UserFollowersWidget,
  UserInfo,
  UserAutocomplete,
  UserProfileBlocked,
  UserProfileHeader,
  UserSuggestionWidget,
} from '@selfcommunity/react-ui';
import React, { useCallback, useMemo, useState } from 'react';
import { createRoot } from 'react-dom/client';

const STORAGE_KEY = 'kith-widgets-session';

function resolvePortal() {
  const fromQuery = new URLSearchParams(window.location.search).get('portal');
  const portal = fromQuery || import.meta.env.VITE_KITH_URL || window.location.origin;
  return portal.replace(/\/+$/, '');
}

function initialSession() {
  const hash = new URLSearchParams(window.location.hash.slice(1));
  const fromHash = hash.get('token');
  if (fromHash) {
    const session = { accessToken: fromHash, refreshToken: hash.get('refresh_token') || undefined };
    sessionStorage.setItem(STORAGE_KEY, JSON.stringify(session));
    // The token leaves the address bar (and the browser history) once read.
    window.history.replaceState(null, '', window.location.pathname + window.location.search);
    return session;
  }
  const stored = sessionStorage.getItem(STORAGE_KEY);
  if (stored) return JSON.parse(stored);
  if (import.meta.env.VITE_KITH_TOKEN) return { accessToken: import.meta.env.VITE_KITH_TOKEN };
  return null;
}

async function tokenRequest(portal, fields) {
  const response = await fetch(`${portal}/oauth/token/`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams(fields).toString(),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.detail || body.error_description || `kith answered ${response.status}`);
  return { accessToken: body.access_token, refreshToken: body.refresh_token, expiresIn: body.expires_in };
}

function SignIn({ portal, onSession }) {
  const [error, setError] = useState(null);
  const submit = async (event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    try {
      setError(null);
      onSession(
        await tokenRequest(portal, {
          grant_type: 'password',
          username: String(form.get('username')),
          password: String(form.get('password')),
        }),
      );
    } catch (e) {
      setError(e.message);
    }
  };
  return (
    <form onSubmit={submit} style={{ display: 'grid', gap: 8, maxWidth: 320, margin: '48px auto', fontFamily: 'sans-serif' }}>
      <h1 style={{ fontSize: 20 }}>Sign in to {portal}</h1>
      <input name="username" placeholder="username" autoComplete="username" required />
      <input name="password" type="password" placeholder="password" autoComplete="current-password" required />
      <button type="submit">Sign in</button>
      {error && <p role="alert">{error}</p>}
    </form>
  );
}

/** The user id in the address's `name` parameter (`?profile=42`), or null. */
function idInAddress(name) {
  const id = Number(new URLSearchParams(window.location.search).get(name));
  return Number.isSafeInteger(id) && id > 0 ? id : null;
}

const VIEWS = {
  profile: 'A member’s profile, seen by ',
  follow: 'Followers and followings, seen by ',
  block: 'Blocking a member, seen by ',
  connections: 'Connections of ',
  people: 'People for ',
};

function Widgets({ onSignOut }) {
  const { user, loading, error } = useSCUser();
  const profileId = useMemo(() => idInAddress('profile'), []);
  const followId = useMemo(() => idInAddress('follow'), []);
  const blockId = useMemo(() => idInAddress('block'), []);
  const people = useMemo(() => new URLSearchParams(window.location.search).has('people'), []);
  const view = profileId ? 'profile' : followId ? 'follow' : blockId ? 'block' : people ? 'people' : 'connections';
  if (!user) {
    return (
      <p data-testid="status" style={{ fontFamily: 'sans-serif', padding: 24 }}>
        {loading || !error ? 'Signing in…' : 'kith did not accept this token.'}{' '}
        {error && (
          <button type="button" onClick={onSignOut}>
            Sign in again
          </button>
        )}
      </p>
    );
  }
  return (
    <main style={{ maxWidth: 1200, margin: '0 auto', padding: 24, fontFamily: 'sans-serif' }}>
      <header style={{ display: 'flex', justifyContent: 'space-between', alignItems: 'center', marginBottom: 16 }}>
        <h1 style={{ fontSize: 20, margin: 0 }}>
          {VIEWS[view]}
          <span data-testid="me">{user.username}</span>
        </h1>
        <button type="button" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      {view === 'profile' && <Profile userId={profileId} />}
      {view === 'follow' && <Follows userId={followId} />}
      {view === 'block' && <Block userId={blockId} />}
      {view === 'connections' && <Connections user={user} />}
      {view === 'people' && <People />}
    </main>
  );
}

/** A member's profile page: the header (cover, avatar, names, bio) and the public information below it. */
function Profile({ userId }) {
  return (
    <div style={{ display: 'grid', gap: 16 }}>
      <section data-testid="profile-header">
        <UserProfileHeader userId={userId} />
      </section>
      <section data-testid="profile-info">
        <UserInfo userId={userId} />
      </section>
    </div>
  );
}

/**
 * Follow mode (`configurations.follow_enabled`): a member, a button to follow or unfollow them, their followers
 * and the members they follow. FollowUserButton reads `user.id` while rendering, so it gets the loaded user,
 * not an id.
 */
function Follows({ userId }) {
  const { scUser } = useSCFetchUser({ id: userId });
  return (
    <div style={{ display: 'grid', gridTemplateColumns: 'repeat(auto-fit, minmax(320px, 1fr))', gap: 16 }}>
      <section data-testid="follow-member" style={{ display: 'flex', gap: 12, alignItems: 'center', alignSelf: 'start' }}>
        {scUser && (
          <>
            <strong>@{scUser.username}</strong>
            <FollowUserButton user={scUser} />
          </>
        )}
      </section>
      <section data-testid="followers">
        <UserFollowersWidget userId={userId} limit={10} />
      </section>
      <section data-testid="followings">
        <UserFollowedUsersWidget userId={userId} limit={10} />
      </section>
    </div>
  );
}

/**
 * Hiding (SelfCommunity calls it blocking): a member's action menu, whose "Block user" / "Unblock user" item
 * toggles kith's `POST /api/v2/user/{id}/hide/`, and the notice a blocked profile shows (`is_hidden_by`, and
 * the member's hidden ids). Both get the loaded user, as FollowUserButton does.
 */
function Block({ userId }) {
  const { scUser } = useSCFetchUser({ id: userId });
  if (!scUser) return null;
  return (
    <div style={{ display: 'grid', gap: 16, maxWidth: 640 }}>
      <section data-testid="block-member" style={{ display: 'flex', gap: 12, alignItems: 'center' }}>
        <strong>@{scUser.username}</strong>
        <UserActionIconButton user={scUser} aria-label="actions" />
      </section>
      <section data-testid="blocked-notice">
        <UserProfileBlocked user={scUser} />
      </section>
    </div>
  );
}

/** Finding people: whom kith suggests (mutual connections first), and a picker that searches members by name. */
function People() {
  const [picked, setPicked] = useState([]);
  return (
    <div style={{ display: 'grid', gridTemplateColumns: 'repeat(auto-fit, minmax(320px, 1fr))', gap: 16 }}>
      <section data-testid="suggestions">
        <UserSuggestionWidget limit={3} />
      </section>
      <section data-testid="autocomplete">
        <UserAutocomplete onChange={setPicked} />
        <p data-testid="picked">{picked.map((u) => (typeof u === 'object' ? u.username : u)).join(',')}</p>
      </section>
    </div>
  );
}

function Connections({ user }) {
  return (
    <div style={{ display: 'grid', gridTemplateColumns: 'repeat(auto-fit, minmax(320px, 1fr))', gap: 16 }}>
      <section data-testid="requests">
        <UserConnectionsRequestsWidget userId={user.id} limit={10} />
      </section>
      <section data-testid="requests-sent">
        <UserConnectionsRequestsSentWidget userId={user.id} limit={10} />
      </section>
      <section data-testid="connections">
        <UserConnectionsWidget userId={user.id} limit={10} />
      </section>
    </div>
  );
}

function App() {
  const portal = useMemo(resolvePortal, []);
  const [session, setSession] = useState(initialSession);

  const remember = useCallback((next) => {
    sessionStorage.setItem(STORAGE_KEY, JSON.stringify(next));
    setSession(next);
  }, []);
  const signOut = useCallback(() => {
    sessionStorage.removeItem(STORAGE_KEY);
    setSession(null);
  }, []);

  const conf = useMemo(
    () =>
      session && {
        portal,
        locale: { default: 'en' },
        session: {
          type: 'OAuth',
          clientId: 'kith-widgets-example',
          authToken: session,
          // The provider calls this when kith answers 401, with its current session (it keeps the newest
          // tokens there); without a refresh token, sign in again.
          handleRefreshToken: async (current) => {
            const refreshToken = current?.authToken?.refreshToken ?? session.refreshToken;
            if (!refreshToken) {
              signOut();
              throw new Error('The access token expired.');
            }
            const next = await tokenRequest(portal, { grant_type: 'refresh_token', refresh_token: refreshToken });
            sessionStorage.setItem(STORAGE_KEY, JSON.stringify(next));
            return next;
          },
          handleLogout: signOut,
        },
        // kith serves the socket at /ws/notify; it is secure unless the portal is plain http.
        notifications: { webSocket: { secure: portal.startsWith('https:') } },
      },
    [portal, session, signOut],
  );

  if (!conf) return <SignIn portal={portal} onSession={remember} />;
  return (
    <SCContextProvider conf={conf}>
      <Widgets onSignOut={signOut} />
    </SCContextProvider>
  );
}

createRoot(document.getElementById('root')).render(<App />);
