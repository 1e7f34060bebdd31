# The entry functions of every fuzz target (fuzz_entries.h) and what they share: linked by the
# libFuzzer binaries (tests/fuzz/CMakeLists.txt) and by the replay test (tests/unit/fuzz).
set(LEDGER_FUZZ_ENTRY_SOURCES
    ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_fixture.cc
    ${CMAKE_SOURCE_DIR}/tests/fuzz/tx_admission_fuzz_entry.cc
    ${CMAKE_SOURCE_DIR}/tests/fuzz/block_cert_fuzz_entry.cc
    ${CMAKE_SOURCE_DIR}/tests/fuzz/consensus_replica_fuzz_entry.cc
    ${CMAKE_SOURCE_DIR}/tests/fuzz/rpc_fuzz_entry.cc
    ${CMAKE_SOURCE_DIR}/tests/fuzz/genesis_fuzz_entry.cc
    ${CMAKE_SOURCE_DIR}/tests/fuzz/config_fuzz_entry.cc
    ${CMAKE_SOURCE_DIR}/tests/fuzz/audit_bundle_fuzz_entry.cc
    ${CMAKE_SOURCE_DIR}/tests/fuzz/p2p_session_fuzz_entry.cc
    ${CMAKE_SOURCE_DIR}/tests/fuzz/p2p_fuzz_entry.cc)
# Target name -> entry function, in the order scripts/fuzz.sh runs them.
set(LEDGER_FUZZ_TARGETS
    tx_admission:FuzzTxAdmission
    block_cert:FuzzBlockCert
    consensus_replica:FuzzConsensusReplica
    rpc:FuzzRpc
    genesis:FuzzGenesis
    config:FuzzConfig
    audit_bundle:FuzzAuditBundle
    p2p_session:FuzzP2pSession)
