#include "node/rpc_dispatch.h"

#include <gtest/gtest.h>

namespace cl::node {
namespace {

RpcDispatcher MakeDispatcher() {
  RpcDispatcher d;
  d.Register("echo", RpcMethod{[](const json::value& params, RpcCallContext&) -> RpcResult {
                                 return params;
                               },
                               false});
  d.Register("write", RpcMethod{[](const json::value&, RpcCallContext&) -> RpcResult {
                                  return json::value("written");
                                },
                                true});
  d.Register("throws", RpcMethod{[](const json::value&, RpcCallContext&) -> RpcResult {
                                   throw std::runtime_error("boom");
                                 },
                                 false});
  return d;
}

json::value Call(const RpcDispatcher& d, std::string_view text, bool authorized = true) {
  RpcCallContext context;
  context.authorized_for_writes = authorized;
  std::string out = d.HandleText(text, context);
  if (out.empty()) return nullptr;
  return json::parse(out);
}

int64_t ErrorCode(const json::value& response) {
  return response.at("error").at("code").as_int64();
}

TEST(RpcDispatch, EchoesResultWithSameId) {
  auto r = Call(MakeDispatcher(), R"({"jsonrpc":"2.0","id":7,"method":"echo","params":{"a":1}})");
  EXPECT_EQ(r.at("id").as_int64(), 7);
  EXPECT_EQ(r.at("result").at("a").as_int64(), 1);
}

TEST(RpcDispatch, MalformedJsonIsParseError) {
  auto r = Call(MakeDispatcher(), R"({"jsonrpc":"2.0", "id":)");
  EXPECT_EQ(ErrorCode(r), kRpcParseError);
  EXPECT_TRUE(r.at("id").is_null());
}

TEST(RpcDispatch, WrongShapesAreInvalidRequest) {
  auto d = MakeDispatcher();
  EXPECT_EQ(ErrorCode(Call(d, R"("just a string")")), kRpcInvalidRequest);
  EXPECT_EQ(ErrorCode(Call(d, R"({"jsonrpc":"1.0","id":1,"method":"echo"})")), kRpcInvalidRequest);
  EXPECT_EQ(ErrorCode(Call(d, R"({"jsonrpc":"2.0","id":1,"method":5})")), kRpcInvalidRequest);
  EXPECT_EQ(ErrorCode(Call(d, R"({"jsonrpc":"2.0","id":1,"method":"echo","params":3})")),
            kRpcInvalidRequest);
  EXPECT_EQ(ErrorCode(Call(d, R"({"jsonrpc":"2.0","id":{},"method":"echo"})")), kRpcInvalidRequest);
  EXPECT_EQ(ErrorCode(Call(d, "[]")), kRpcInvalidRequest);
}

TEST(RpcDispatch, UnknownMethodIsMethodNotFound) {
  EXPECT_EQ(ErrorCode(Call(MakeDispatcher(), R"({"jsonrpc":"2.0","id":1,"method":"nope"})")),
            kRpcMethodNotFound);
}

TEST(RpcDispatch, WriteMethodNeedsAuthorization) {
  auto d = MakeDispatcher();
  EXPECT_EQ(ErrorCode(Call(d, R"({"jsonrpc":"2.0","id":1,"method":"write"})", false)),
            kRpcUnauthorized);
  EXPECT_EQ(Call(d, R"({"jsonrpc":"2.0","id":1,"method":"write"})", true).at("result"), "written");
}

TEST(RpcDispatch, HandlerExceptionBecomesInternalError) {
  EXPECT_EQ(ErrorCode(Call(MakeDispatcher(), R"({"jsonrpc":"2.0","id":1,"method":"throws"})")),
            kRpcInternalError);
}

TEST(RpcDispatch, NotificationGetsNoResponse) {
  EXPECT_TRUE(Call(MakeDispatcher(), R"({"jsonrpc":"2.0","method":"echo"})").is_null());
}

TEST(RpcDispatch, BatchAnswersEachRequestAndSkipsNotifications) {
  auto r = Call(MakeDispatcher(), R"([{"jsonrpc":"2.0","id":1,"method":"echo","params":[1]},
      {"jsonrpc":"2.0","method":"echo"}, 42,
      {"jsonrpc":"2.0","id":"x","method":"nope"}])");
  ASSERT_TRUE(r.is_array());
  ASSERT_EQ(r.as_array().size(), 3u);
  EXPECT_EQ(r.as_array()[0].at("id").as_int64(), 1);
  EXPECT_EQ(ErrorCode(r.as_array()[1]), kRpcInvalidRequest);
  EXPECT_EQ(ErrorCode(r.as_array()[2]), kRpcMethodNotFound);
}

TEST(RpcDispatch, OversizeBatchIsRefused) {
  std::string batch = "[";
  for (size_t i = 0; i <= kMaxBatchRequests; ++i) {
    if (i) batch += ",";
    batch += R"({"jsonrpc":"2.0","id":1,"method":"echo"})";
  }
  batch += "]";
  EXPECT_EQ(ErrorCode(Call(MakeDispatcher(), batch)), kRpcLimitExceeded);
}

TEST(RpcDispatch, DeeplyNestedJsonIsRefused) {
  std::string deep(kMaxJsonDepth + 5, '[');
  deep += std::string(kMaxJsonDepth + 5, ']');
  EXPECT_EQ(ErrorCode(Call(MakeDispatcher(), deep)), kRpcParseError);
}

TEST(RpcDispatch, DecimalAmountsAreStrict) {
  EXPECT_EQ(ParseDecimalU64("0", "amount").value(), 0u);
  EXPECT_EQ(ParseDecimalU64("18446744073709551615", "amount").value(), UINT64_MAX);
  for (const char* bad : {"", "-1", "+1", "01", "1.5", "1e3", "18446744073709551616", " 1", "abc"})
    EXPECT_FALSE(ParseDecimalU64(bad, "amount").has_value()) << bad;
}

}  // namespace
}  // namespace cl::node
