// The JetStream publish path suite again, against a server with 4 shards (publishes, API requests and acks
// cross the rings to the JetStream worker from whichever shard the client is on).
// startServer() reads TSNATS_TEST_SHARDS when a test's before() hook runs, after this line.
process.env['TSNATS_TEST_SHARDS'] = '4';
await import('../jetstream/publish.test.js');
