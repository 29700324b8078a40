// The Prometheus endpoint's HTTP (supervisor/metrics_server.h): what a
// request head asks for, and the response written for it.

#include "supervisor/metrics_server.h"

#include <gtest/gtest.h>

namespace shoal::supervisor {
namespace {

TEST(MetricsHttp, ParsesWhatPrometheusSends) {
  auto r = parseHttpRequest("GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: text/plain");
  EXPECT_EQ(r.status, 200);
  EXPECT_FALSE(r.head);
  EXPECT_EQ(parseHttpRequest("GET /metrics?format=x HTTP/1.1").status, 200);
  EXPECT_EQ(parseHttpRequest("GET /metrics HTTP/1.0").status, 200);
  r = parseHttpRequest("HEAD /metrics HTTP/1.1");
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.head);
}

TEST(MetricsHttp, AnythingElseIsAnError) {
  EXPECT_EQ(parseHttpRequest("GET / HTTP/1.1").status, 404);
  EXPECT_EQ(parseHttpRequest("GET /metrics/x HTTP/1.1").status, 404);
  EXPECT_EQ(parseHttpRequest("POST /metrics HTTP/1.1").status, 405);
  EXPECT_EQ(parseHttpRequest("DELETE /metrics HTTP/1.1").status, 405);
  EXPECT_EQ(parseHttpRequest("GET /metrics HTTP/2.0").status, 400);
  EXPECT_EQ(parseHttpRequest("GET /metrics").status, 400);
  EXPECT_EQ(parseHttpRequest("GET  /metrics HTTP/1.1").status, 400);
  EXPECT_EQ(parseHttpRequest("").status, 400);
  EXPECT_EQ(parseHttpRequest(std::string("\0\0\0", 3)).status, 400);
}

TEST(MetricsHttp, Responses) {
  EXPECT_EQ(httpResponse(200, "a 1\n", false),
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
            "Content-Length: 4\r\nConnection: close\r\n\r\na 1\n");
  const std::string head = httpResponse(200, "a 1\n", true);
  EXPECT_NE(head.find("Content-Length: 4\r\n"), std::string::npos);
  EXPECT_EQ(head.substr(head.size() - 4), "\r\n\r\n");
  EXPECT_NE(httpResponse(405, "x", false).find("Allow: GET, HEAD\r\n"), std::string::npos);
}

}  // namespace
}  // namespace shoal::supervisor
