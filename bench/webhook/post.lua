-- wrk script: POST the same AdmissionReview body on every request (keep-alive).
local f = assert(io.open(os.getenv("KACME_BENCH_BODY"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
