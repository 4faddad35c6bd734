package hello

// A test file, which the source zip leaves out.
