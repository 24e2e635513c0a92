// A shared library that is not a job package: it exports a function, but no SLUICE_JOB entry point
// and no ABI version symbol. Submitting it must be refused with a clear message.
extern "C" __attribute__((visibility("default"))) int not_a_sluice_job() { return 42; }
