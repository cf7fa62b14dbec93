// server/router.h: picks the handler for a request (path, method, Content-Type) and turns every
// failure into a JSON error response. route() never throws.
#pragma once

#include <boost/asio/awaitable.hpp>

#include "server/handlers.h"
#include "server/http_types.h"

namespace ragperf::server {

/// Every request passes through here: one route table, one dispatch, one decision of the error
/// shape per API family (ragperf's, OpenAI's on /v1/*, TEI's on its routes; json_codec.h
/// error_response). 404 unknown path, 405 wrong method (with Allow), 415 a POST body that is
/// not application/json; handler errors through status_for(). Records the stage
/// "http_<route>" and the counters http_requests / http_errors in the handlers' monitor, sends
/// TEI's x-total-time, x-tokenization-time, x-queue-time, x-inference-time (milliseconds) on
/// every response and writes one access-log line when ServerOptions::access_log is set.
boost::asio::awaitable<HttpResponse> route(Handlers& handlers, const HttpRequest& request);

}  // namespace ragperf::server
