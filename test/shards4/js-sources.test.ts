// The JetStream sources suite again, against a server with 4 shards (what the worker publishes across
// accounts reaches whichever shard holds the other account's clients).
// startServer() reads TSNATS_TEST_SHARDS when a test's before() hook runs, after this line.
process.env['TSNATS_TEST_SHARDS'] = '4';
await import('../jetstream/sources.test.js');
