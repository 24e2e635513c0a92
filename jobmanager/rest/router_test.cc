#include "jobmanager/rest/router.h"

#include <gtest/gtest.h>

#include "jobmanager/rest/json.h"

namespace sluice::jobmanager::rest {
namespace {

RestResponse Echo(const RestRequest& req, const std::string& route) {
  Json j{{"route", route}};
  for (const auto& [k, v] : req.params) j[k] = v;
  return JsonResponse(j);
}

Router MakeRouter() {
  Router r;
  r.Add("GET", "/jobs", [](const RestRequest& q) { return Echo(q, "jobs"); });
  r.Add("GET", "/jobs/overview", [](const RestRequest& q) { return Echo(q, "overview"); });
  r.Add("GET", "/jobs/:jobid", [](const RestRequest& q) { return Echo(q, "job"); });
  r.Add("PATCH", "/jobs/:jobid", [](const RestRequest& q) { return Echo(q, "cancel"); });
  r.Add("GET", "/jobs/:jobid/vertices/:vertexid",
        [](const RestRequest& q) { return Echo(q, "vertex"); });
  return r;
}

Json Body(const RestResponse& r) { return Json::parse(r.body); }

RestRequest Req(const std::string& method, const std::string& path) {
  RestRequest q;
  q.method = method;
  q.path = path;
  return q;
}

TEST(RouterTest, MatchesLiteralsBeforeParametersAndFillsParameters) {
  Router r = MakeRouter();
  EXPECT_EQ(Body(r.Handle(Req("GET", "/jobs")))["route"], "jobs");
  EXPECT_EQ(Body(r.Handle(Req("GET", "/jobs/overview")))["route"], "overview");
  Json job = Body(r.Handle(Req("GET", "/jobs/abc")));
  EXPECT_EQ(job["route"], "job");
  EXPECT_EQ(job["jobid"], "abc");
  Json v = Body(r.Handle(Req("GET", "/jobs/abc/vertices/0f")));
  EXPECT_EQ(v["jobid"], "abc");
  EXPECT_EQ(v["vertexid"], "0f");
  EXPECT_EQ(Body(r.Handle(Req("PATCH", "/jobs/abc")))["route"], "cancel");
  // A trailing slash is the same path.
  EXPECT_EQ(Body(r.Handle(Req("GET", "/jobs/")))["route"], "jobs");
}

TEST(RouterTest, UnknownPathIs404AndWrongMethodIs405InFlinksErrorShape) {
  Router r = MakeRouter();
  RestResponse missing = r.Handle(Req("GET", "/nope/x"));
  EXPECT_EQ(missing.status, 404);
  ASSERT_TRUE(Body(missing)["errors"].is_array());
  EXPECT_EQ(Body(missing)["errors"][0], "Not found: /nope/x");
  RestResponse wrong = r.Handle(Req("DELETE", "/jobs/abc"));
  EXPECT_EQ(wrong.status, 405);
  EXPECT_EQ(wrong.headers["Allow"], "GET, PATCH");
}

TEST(RouterTest, StatusCodesFollowTheErrorKind) {
  EXPECT_EQ(ErrorResponse(absl::InvalidArgumentError("x")).status, 400);
  EXPECT_EQ(ErrorResponse(absl::NotFoundError("x")).status, 404);
  EXPECT_EQ(ErrorResponse(absl::FailedPreconditionError("x")).status, 409);
  EXPECT_EQ(ErrorResponse(absl::UnavailableError("x")).status, 503);
  EXPECT_EQ(ErrorResponse(absl::InternalError("x")).status, 500);
  EXPECT_EQ(Json::parse(ErrorResponse(absl::NotFoundError("no job")).body)["errors"][0], "no job");
}

TEST(RouterTest, JsonBodiesAreObjectsOrRefusedClearly) {
  EXPECT_TRUE(ParseJsonObject("")->empty());
  EXPECT_TRUE(ParseJsonObject("  \n")->empty());
  EXPECT_EQ((*ParseJsonObject(R"({"drain": true})"))["drain"], true);
  EXPECT_TRUE(absl::IsInvalidArgument(ParseJsonObject("{not json").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(ParseJsonObject("[1,2]").status()));
  // Invalid UTF-8 in a message does not throw when the answer is written.
  EXPECT_NE(ErrorResponse(400, "bad \xff byte").body.find("errors"), std::string::npos);
}

}  // namespace
}  // namespace sluice::jobmanager::rest
