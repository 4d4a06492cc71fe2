// The jetstream/kv suite again, against a server with 4 shards (deliveries cross the rings to whichever shard holds the inbox).
// startServer() reads TSNATS_TEST_SHARDS when a test's before() hook runs, after this line.
process.env['TSNATS_TEST_SHARDS'] = '4';
await import('../jetstream/kv.test.js');
