-- wrk: POST a small JSON event (publish scenarios).
wrk.method = "POST"
wrk.body = '{"orderId":1,"item":"book"}'
wrk.headers["Content-Type"] = "application/json"
