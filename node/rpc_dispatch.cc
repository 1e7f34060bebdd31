#include "node/rpc_dispatch.h"

#include <charconv>

namespace cl::node {
namespace {

bool IsValidId(const json::value& id) {
  return id.is_string() || id.is_int64() || id.is_uint64() || id.is_null();
}

}  // namespace

json::object MakeErrorResponse(const json::value& id, const RpcError& error) {
  json::object err;
  err["code"] = error.code;
  err["message"] = error.message;
  if (!error.data.is_null()) err["data"] = error.data;
  json::object response;
  response["jsonrpc"] = "2.0";
  response["error"] = std::move(err);
  response["id"] = id;
  return response;
}

void RpcDispatcher::Register(std::string name, RpcMethod method) {
  methods_[std::move(name)] = std::move(method);
}

bool RpcDispatcher::HasMethod(std::string_view name) const {
  return methods_.find(name) != methods_.end();
}

json::value RpcDispatcher::HandleOne(const json::value& request, RpcCallContext& context) const {
  const json::object* obj = request.if_object();
  if (obj == nullptr)
    return MakeErrorResponse(nullptr, {kRpcInvalidRequest, "request must be an object", nullptr});
  const json::value* id = obj->if_contains("id");
  const bool is_notification = id == nullptr;
  json::value id_value = id ? *id : json::value(nullptr);
  if (!IsValidId(id_value))
    return MakeErrorResponse(nullptr,
                             {kRpcInvalidRequest, "id must be a string, integer or null", nullptr});
  const json::value* version = obj->if_contains("jsonrpc");
  if (version == nullptr || !version->is_string() || version->get_string() != "2.0")
    return MakeErrorResponse(id_value, {kRpcInvalidRequest, "jsonrpc must be \"2.0\"", nullptr});
  const json::value* method = obj->if_contains("method");
  if (method == nullptr || !method->is_string())
    return MakeErrorResponse(id_value, {kRpcInvalidRequest, "method must be a string", nullptr});
  std::string_view name = method->get_string();
  if (name.size() > kMaxMethodNameBytes)
    return MakeErrorResponse(id_value, {kRpcInvalidRequest, "method name too long", nullptr});
  const json::value* params = obj->if_contains("params");
  json::value params_value = params ? *params : json::value(json::object());
  if (!params_value.is_object() && !params_value.is_array())
    return MakeErrorResponse(id_value,
                             {kRpcInvalidRequest, "params must be an object or array", nullptr});

  auto it = methods_.find(name);
  if (it == methods_.end()) {
    if (is_notification) return nullptr;
    return MakeErrorResponse(id_value,
                             {kRpcMethodNotFound, "unknown method: " + std::string(name), nullptr});
  }
  RpcResult result;
  if (it->second.write && !context.authorized_for_writes) {
    result = RpcFail(kRpcUnauthorized, "method needs a valid bearer token");
  } else {
    try {
      result = it->second.handler(params_value, context);
    } catch (const std::exception& e) {
      // Handlers return errors as values; an exception here is a bug in a handler, reported
      // without taking the server down.
      result = RpcFail(kRpcInternalError, std::string("internal error: ") + e.what());
    }
  }
  if (is_notification) return nullptr;
  if (!result) return MakeErrorResponse(id_value, result.error());
  json::object response;
  response["jsonrpc"] = "2.0";
  response["result"] = std::move(*result);
  response["id"] = id_value;
  return response;
}

std::string RpcDispatcher::HandleText(std::string_view body, RpcCallContext& context) const {
  json::parse_options options;
  options.max_depth = kMaxJsonDepth;
  boost::system::error_code ec;
  json::value request = json::parse(body, ec, {}, options);
  if (ec) {
    return json::serialize(
        MakeErrorResponse(nullptr, {kRpcParseError, "parse error: " + ec.message(), nullptr}));
  }
  if (const json::array* batch = request.if_array()) {
    if (batch->empty())
      return json::serialize(
          MakeErrorResponse(nullptr, {kRpcInvalidRequest, "empty batch", nullptr}));
    if (batch->size() > kMaxBatchRequests)
      return json::serialize(MakeErrorResponse(
          nullptr,
          {kRpcLimitExceeded,
           "batch has more than " + std::to_string(kMaxBatchRequests) + " requests", nullptr}));
    json::array responses;
    for (const json::value& item : *batch) {
      json::value response = HandleOne(item, context);
      if (!response.is_null()) responses.push_back(std::move(response));
    }
    if (responses.empty()) return {};
    return json::serialize(responses);
  }
  json::value response = HandleOne(request, context);
  if (response.is_null()) return {};
  return json::serialize(response);
}

std::expected<const json::object*, RpcError> ParamsObject(const json::value& params) {
  if (!params.is_object())
    return std::unexpected(RpcError{kRpcInvalidParams, "params must be an object", nullptr});
  return &params.get_object();
}

std::expected<std::string_view, RpcError> RequireString(const json::object& params,
                                                        std::string_view field) {
  const json::value* v = params.if_contains(field);
  if (v == nullptr || !v->is_string())
    return std::unexpected(
        RpcError{kRpcInvalidParams, "params." + std::string(field) + " must be a string", nullptr});
  return std::string_view(v->get_string());
}

std::expected<uint64_t, RpcError> RequireUint(const json::object& params, std::string_view field) {
  const json::value* v = params.if_contains(field);
  if (v != nullptr) {
    if (v->is_uint64()) return v->get_uint64();
    if (v->is_int64() && v->get_int64() >= 0) return static_cast<uint64_t>(v->get_int64());
  }
  return std::unexpected(
      RpcError{kRpcInvalidParams,
               "params." + std::string(field) + " must be a non-negative integer", nullptr});
}

std::expected<uint64_t, RpcError> ParseDecimalU64(std::string_view text, std::string_view field) {
  uint64_t value = 0;
  bool digits_only = !text.empty() && text.size() <= 20;
  for (char c : text)
    digits_only = digits_only && c >= '0' && c <= '9';
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (!digits_only || ec != std::errc() || ptr != text.data() + text.size() ||
      (text.size() > 1 && text[0] == '0'))
    return std::unexpected(RpcError{
        kRpcInvalidParams,
        std::string(field) + " must be a decimal string of an unsigned 64-bit integer", nullptr});
  return value;
}

}  // namespace cl::node
