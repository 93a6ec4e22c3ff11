package session

// Test helpers of package session for the tests of package session_test.
var TokenOfSize = tokenOfSize
