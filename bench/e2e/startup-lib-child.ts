// Child of startup-lib.ts: a fresh Node process that imports the package by name and starts a
// server on the given port, as a user's test file does (process start + import + startServer).
// It serves until its parent sends SIGTERM, then stops (removing its temporary store) and exits.
import { startServer } from 'tsnats';

const port = Number(process.argv[2]);
const js = process.argv[3] === 'js';
const started = startServer({ port, jetstream: js });
// Installed before the start completes: the parent may signal as soon as the first INFO arrives.
process.once('SIGTERM', () => {
  void started.then((s) => s.stop()).finally(() => process.exit(0));
});
await started;
