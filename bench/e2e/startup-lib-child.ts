// Child of startup-lib.ts: a fresh Node process that imports the package by name and starts a
// server on the given port, as a user's test file does (process start + import + startServer).
// It serves until its parent kills it.
import { startServer } from 'tsnats';

const port = Number(process.argv[2]);
const js = process.argv[3] === 'js';
await startServer({ port, jetstream: js });
