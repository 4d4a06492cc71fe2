// The protocol-edges suite again, against a server with 4 shards.
// startServer() reads TSNATS_TEST_SHARDS when a test's before() hook runs, after this line.
process.env['TSNATS_TEST_SHARDS'] = '4';
await import('../wire/edges.test.js');
