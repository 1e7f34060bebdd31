// Transactions for the node's unit tests: a create_account body controlled by one key.
#pragma once

#include <cstdint>

#include "crypto/keys.h"
#include "ledger/ledger.pb.h"
#include "util/bytes.h"

namespace cl::node::testing {

inline ledger::pb::TxBody CreateAccountBody(const char* chain, uint64_t nonce,
                                            uint64_t valid_until_height,
                                            const crypto::PrivateKey& controller_key) {
  ledger::pb::TxBody body;
  body.set_chain_id(chain);
  body.set_valid_until_height(valid_until_height);
  body.set_nonce(nonce);
  auto* create = body.add_operations()->mutable_create_account();
  Bytes id(16, 0);
  id[15] = static_cast<uint8_t>(nonce + 1);
  id[14] = static_cast<uint8_t>((nonce + 1) >> 8);
  create->set_id(id.data(), id.size());
  create->set_asset("USD");
  create->set_custodian(1);
  auto* controller = create->mutable_controller();
  controller->set_threshold(1);
  auto pub = controller_key.GetPublicKey();
  controller->add_keys(pub.bytes.data(), pub.bytes.size());
  return body;
}

}  // namespace cl::node::testing
