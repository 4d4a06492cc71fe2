// What the main thread's route table (manager.ts) and the shards hosting routes (shard-cluster.ts)
// tell each other over the worker control channel. Plain data (structured clone); never messages or
// interest: those travel on the rings and the route sockets.

/** What a shard learned from a peer's first INFO, for the route table (server.go addRoute). */
export interface RemoteRoute {
  id: string;
  name: string;
  /** The peer's cluster listen host and port as its INFO gives them. */
  host: string;
  port: number;
  /** nats-route://host:port/ where the peer can be reached (INFO `ip`, or made from the TCP peer address). */
  ip: string;
  authRequired: boolean;
  connectUrls: string[];
  wsConnectUrls: string[];
  /** The INFO as received (nonce removed, `ip` filled in): what gossip forwards to the other routes. */
  info: Record<string, unknown>;
}

/** A solicited route's target (nats-route://user:pass@host:port). */
export interface RouteUrl {
  host: string;
  port: number;
  user: string;
  pass: string;
  /** For logs: the URL without the password. */
  redacted: string;
}

/** One route in /routez (monitor.go RouteInfo). */
export interface RoutezEntry {
  rid: number;
  remote_id: string;
  remote_name: string;
  did_solicit: boolean;
  is_configured: boolean;
  ip: string;
  port: number;
  start: string;
  last_activity: string;
  rtt: string;
  uptime: string;
  idle: string;
  import?: unknown;
  export?: unknown;
  pending_size: number;
  in_msgs: number;
  out_msgs: number;
  in_bytes: number;
  out_bytes: number;
  subscriptions: number;
  subscriptions_list?: string[];
  subscriptions_list_detail?: { subject: string; qgroup?: string; sid: string; msgs: number; cid: number }[];
}

export type ToShardCluster =
  /** Facts every route connection needs; routes handed over before it arrives wait for it. */
  | { type: 'init'; routeInfo: Record<string, unknown>; jsPeer: number }
  /** Solicit a route: connect, send CONNECT and INFO. */
  | { type: 'dial'; cid: number; url: RouteUrl; explicit: boolean }
  /** The route table's answer to `register`: false is a duplicate route (closed). */
  | { type: 'verdict'; cid: number; ok: boolean }
  /** Forward a new route's INFO to every registered route here except the one to `exclude` (gossip). */
  | { type: 'gossip'; exclude: string; info: Record<string, unknown> }
  /** Client INFO fields (connect_urls, ws_connect_urls); `notify`: send async INFO to clients. */
  | { type: 'client-info'; fields: Record<string, unknown>; notify: boolean }
  /** Lame duck mode: tell every route (INFO ldm). */
  | { type: 'ldm' }
  /** Close a route (cluster name changed, shutdown of one route). */
  | { type: 'close'; cid: number; reason: string }
  /** The cluster name was adopted from a peer (dynamic names). */
  | { type: 'cluster-name'; name: string }
  | { type: 'routez'; id: number; subs: 'none' | 'list' | 'detail' };

export type FromShardCluster =
  /** A route's first INFO arrived: may it be added (not a duplicate)? */
  | { type: 'register'; cid: number; remote: RemoteRoute; didSolicit: boolean }
  /** A route connection ended (`remoteId` '' when it never got an INFO). */
  | { type: 'closed'; cid: number; remoteId: string; reason: string; noReconnect: boolean }
  | { type: 'dial-failed'; cid: number; err: string }
  /** A registered route told about another server (gossip): connect to it if not yet connected. */
  | { type: 'implicit'; remote: RemoteRoute }
  /** The peer on this route entered lame duck mode. */
  | { type: 'remote-ldm'; cid: number }
  /** A peer's configured cluster name was adopted (this server's name was dynamic). */
  | { type: 'cluster-name'; name: string; cid: number }
  | { type: 'routez'; id: number; data: RoutezEntry[] };
