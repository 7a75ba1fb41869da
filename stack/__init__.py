"""One launcher for the stack's processes, used by `make run`, the tests and the benchmarks.

`stack.processes`: redis-server and each service under uvicorn (start, wait until ready, stop).
`stack.local`: the whole stack for `make run` (Redis, four services, simulated cameras).
`python -m stack`: `make run` itself; `--help` lists the flags.
"""
