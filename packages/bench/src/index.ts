/** Benchmarks are run by `npm run bench` (main.ts); nothing is exported. */
export {}
