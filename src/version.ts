/** The nats-server version whose behaviour and API we implement; clients gate features on it. */
export const NATS_SERVER_COMPAT_VERSION = '2.10.0';
/** tsnats's own version (package.json). */
export const TSNATS_VERSION = '0.1.0';
