// `bpfvm run OBJ` and `bpfvm map dump OBJ`, run as a user runs them, on objects built from
// tests/bpf: the result and its action name, changed packets, maps as text and JSON, and the
// errors for options that do not fit the input.
#include "support/cli_fixture.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>

namespace {

using Outcome = bpfvm::test::CliOutcome;

std::string object(const std::string& name) {
  return std::string(BPFVM_BPF_OBJECTS_DIR) + "/" + name + ".o";
}

// An IPv4/UDP frame to port 9, 43 bytes: xdp_counter counts it under protocol 17 and drops it.
const std::string udp_to_port_9 =
    "02 00 00 00 00 02 02 00 00 00 00 01 08 00 45 00 00 1d 12 34 00 00 40 11 00 00 c0 a8 00 01 "
    "0a 00 00 01 9c 40 00 09 00 09 00 00 2a";

class ObjectRun : public bpfvm::test::CliFixture {};

TEST_F(ObjectRun, HelpDescribesObjectsAndMapDump) {
  Outcome run = bpfvm("run --help");
  EXPECT_EQ(run.status, 0);
  for (const char* option : {"--program", "--packet", "--packet-hex", "--show-maps", "--json"})
    EXPECT_NE(run.out.find(option), std::string::npos) << option;
  Outcome dump = bpfvm("map dump --help");
  EXPECT_EQ(dump.status, 0);
  for (const char* option : {"--program", "--packet-hex", "--map", "--json", "--engine"})
    EXPECT_NE(dump.out.find(option), std::string::npos) << option;
  EXPECT_EQ(bpfvm("map").status, 2);  // a subcommand is required
}

TEST_F(ObjectRun, PrintsTheResultWithItsActionName) {
  for (const char* engine : {"interp", "jit"}) {
    Outcome outcome = bpfvm(std::string("run --engine ") + engine + " " + object("xdp_counter") +
                            " --packet-hex '" + udp_to_port_9 + "'");
    EXPECT_EQ(outcome.status, 0) << outcome.err;
    EXPECT_EQ(outcome.out, "0x1 XDP_DROP\n") << engine;
  }
  // The default packet (64 zero bytes) is no IPv4 frame: XDP_PASS.
  Outcome outcome = bpfvm("run " + object("xdp_counter"));
  EXPECT_EQ(outcome.out, "0x2 XDP_PASS\n") << outcome.err;
}

TEST_F(ObjectRun, ShowsMapsAfterTheRun) {
  Outcome outcome =
      bpfvm("run " + object("xdp_counter") + " --packet-hex '" + udp_to_port_9 + "' --show-maps");
  ASSERT_EQ(outcome.status, 0) << outcome.err;
  EXPECT_NE(outcome.out.find("map per_protocol (array, key 4 B, value 16 B, 256/256 entries)"),
            std::string::npos)
      << outcome.out;
  // Element 17 (UDP): one packet of 43 bytes.
  EXPECT_NE(outcome.out.find("11 00 00 00: 01 00 00 00 00 00 00 00 2b 00 00 00 00 00 00 00"),
            std::string::npos)
      << outcome.out;
}

// perf_probe.bpf.c writes one record with bpf_perf_event_output: --show-maps prints it with
// its slot (the CPU of the run); the record starts with bpf_probe_read_kernel_str's result (6
// for "hello" and its NUL) and the string.
TEST_F(ObjectRun, ShowsPerfEventRecords) {
  const std::string hello = "68 65 6c 6c 6f 00 00 00 00 00 00 00 00 00 00 00";
  for (const char* engine : {"interp", "jit"}) {
    Outcome text = bpfvm(std::string("run --engine ") + engine + " " + object("perf_probe") +
                         " --packet-hex '" + hello + "' --show-maps");
    ASSERT_EQ(text.status, 0) << text.err;
    EXPECT_NE(text.out.find("map events (perf_event_array"), std::string::npos) << text.out;
    EXPECT_NE(text.out.find(": 06 00 00 00 00 00 00 00 68 65 6c 6c 6f 00 00 00 68 65 6c 6c 6f 00"),
              std::string::npos)
        << text.out;
    EXPECT_NE(text.out.find("  record on slot "), std::string::npos) << text.out;
  }
  Outcome json =
      bpfvm("run " + object("perf_probe") + " --packet-hex '" + hello + "' --show-maps --json");
  ASSERT_EQ(json.status, 0) << json.err;
  auto parsed = nlohmann::json::parse(json.out);
  const auto& records = parsed["maps"][0]["records"];
  ASSERT_EQ(records.size(), 1u) << json.out;
  EXPECT_EQ(records[0]["data"].get<std::string>().substr(0, 23), "06 00 00 00 00 00 00 00");
}

// extern_call.bpf.c: calls_missing reaches a function the object lacks; plain does not.
TEST_F(ObjectRun, OnlyProgramsThatLinkRun) {
  Outcome plain = bpfvm("run " + object("extern_call") + " --program plain");
  EXPECT_EQ(plain.status, 0) << plain.err;
  EXPECT_EQ(plain.out, "0x2 XDP_PASS\n");
  Outcome missing = bpfvm("run " + object("extern_call") + " --program calls_missing");
  EXPECT_EQ(missing.status, 2);
  EXPECT_NE(missing.err.find("program 'calls_missing' cannot load"), std::string::npos)
      << missing.err;
  EXPECT_NE(missing.err.find("against 'not_in_this_object'"), std::string::npos) << missing.err;
}

TEST_F(ObjectRun, JsonHasTheResultThePacketAndTheMaps) {
  Outcome outcome = bpfvm("run " + object("xdp_parser") + " --program parse_flows --json " +
                          "--show-maps --packet-hex '" + udp_to_port_9 + "'");
  ASSERT_EQ(outcome.status, 0) << outcome.err;
  auto json = nlohmann::json::parse(outcome.out);
  EXPECT_EQ(json["program"], "parse_flows");
  EXPECT_EQ(json["type"], "xdp");
  EXPECT_EQ(json["return_value"], 2);
  EXPECT_EQ(json["action"], "XDP_PASS");
  EXPECT_EQ(json["packet_changed"], false);
  ASSERT_EQ(json["maps"].size(), 1u);
  EXPECT_EQ(json["maps"][0]["name"], "flow_bytes");
  EXPECT_EQ(json["maps"][0]["entries"].size(), 1u);
}

TEST_F(ObjectRun, PrintsAPacketTheProgramChanged) {
  // An ICMP echo request: xdp_parser answers it in place (XDP_TX).
  std::string echo =
      "02 00 00 00 00 02 02 00 00 00 00 01 08 00 45 00 00 1c 12 34 00 00 40 01 00 00 c0 a8 00 "
      "01 0a 00 00 01 08 00 f7 ff 00 00 00 00";
  Outcome outcome = bpfvm("run " + object("xdp_parser") + " --packet-hex '" + echo + "'");
  ASSERT_EQ(outcome.status, 0) << outcome.err;
  EXPECT_EQ(outcome.out.substr(0, outcome.out.find('\n')), "0x3 XDP_TX");
  EXPECT_NE(outcome.out.find("packet (42 bytes): 02 00 00 00 00 01 02 00 00 00 00 02"),
            std::string::npos)
      << outcome.out;
}

TEST_F(ObjectRun, MapDumpRunsFirstWhenAskedAndFiltersByName) {
  Outcome before = bpfvm("map dump " + object("xdp_parser"));
  ASSERT_EQ(before.status, 0) << before.err;
  EXPECT_EQ(before.out, "map flow_bytes (hash, key 16 B, value 8 B, 0/1024 entries)\n");
  Outcome after = bpfvm("map dump " + object("xdp_parser") + " --map flow_bytes --json " +
                        "--packet-hex '" + udp_to_port_9 + "'");
  ASSERT_EQ(after.status, 0) << after.err;
  auto json = nlohmann::json::parse(after.out);
  ASSERT_EQ(json.size(), 1u);
  ASSERT_EQ(json[0]["entries"].size(), 1u);
  EXPECT_EQ(json[0]["entries"][0]["value"], "2b 00 00 00 00 00 00 00");
}

TEST_F(ObjectRun, ErrorsSayWhatIsWrong) {
  Outcome missing = bpfvm("run " + object("xdp_counter") + " --program nothing");
  EXPECT_EQ(missing.status, 2);
  EXPECT_NE(missing.err.find("no program named 'nothing'"), std::string::npos) << missing.err;
  EXPECT_NE(missing.err.find("count_protocols"), std::string::npos) << missing.err;

  Outcome raw_option = bpfvm("run " + object("xdp_counter") + " --mem-hex '00'");
  EXPECT_EQ(raw_option.status, 2);
  EXPECT_NE(raw_option.err.find("are for raw programs"), std::string::npos) << raw_option.err;

  auto program = write("one.s", "mov %r0, 1\nexit\n");
  Outcome object_option = bpfvm("run " + program.string() + " --show-maps");
  EXPECT_EQ(object_option.status, 2);
  EXPECT_NE(object_option.err.find("are for ELF objects"), std::string::npos) << object_option.err;

  Outcome short_packet = bpfvm("run " + object("xdp_counter") + " --packet-hex '00 01'");
  EXPECT_EQ(short_packet.status, 2);
  EXPECT_FALSE(short_packet.err.empty());

  Outcome no_map = bpfvm("map dump " + object("xdp_counter") + " --map nothing");
  EXPECT_EQ(no_map.status, 2);
  EXPECT_NE(no_map.err.find("no map named 'nothing'"), std::string::npos) << no_map.err;

  auto not_elf = write("junk.o",
                       "\x7f"
                       "ELF but not really");
  Outcome junk = bpfvm("run " + not_elf.string());
  EXPECT_EQ(junk.status, 2);
  EXPECT_FALSE(junk.err.empty());
}

// --network: fib_lookup routes over the described network (xdp_router forwards the frame
// with new MACs and TTL), clone_redirect sends to its interfaces (tc_mirror); without it only
// lo exists, with forwarding off.
TEST_F(ObjectRun, NetworkFileDrivesFibLookupAndClones) {
  auto network = write("net.txt", R"(# a router between lo and eth1
link 1 lo forward
link 3 eth1 mac 02:00:00:00:00:03
addr 3 192.168.9.1/24
neigh 3 192.168.9.9 02:00:00:00:00:99
route 10.0.0.0/8 via 192.168.9.9 dev 3
)");
  Outcome routed = bpfvm("run " + object("xdp_router") + " --packet-hex '" + udp_to_port_9 +
                         "' --network " + network.string());
  ASSERT_EQ(routed.status, 0) << routed.err;
  EXPECT_EQ(routed.out,
            "0x3 XDP_TX\npacket (43 bytes): 02 00 00 00 00 99 02 00 00 00 00 03 08 00 45 00 00 1d "
            "12 34 00 00 3f 11 01 00 c0 a8 00 01 0a 00 00 01 9c 40 00 09 00 09 00 00 2a\n");
  Outcome alone = bpfvm("run " + object("xdp_router") + " --packet-hex '" + udp_to_port_9 + "'");
  EXPECT_EQ(alone.out, "0x1 XDP_DROP\n") << alone.err;  // BPF_FIB_LKUP_RET_FWD_DISABLED

  auto mirror = write("mirror.txt", "link 2 eth0\n");
  Outcome cloned = bpfvm("run " + object("tc_mirror") + " --packet-hex '" + udp_to_port_9 +
                         "' --network " + mirror.string() + " --json");
  ASSERT_EQ(cloned.status, 0) << cloned.err;
  auto json = nlohmann::json::parse(cloned.out);
  ASSERT_EQ(json["clones"].size(), 1u) << cloned.out;
  EXPECT_EQ(json["clones"][0]["ifindex"], 2);
  EXPECT_EQ(json["clones"][0]["ingress"], false);
  EXPECT_EQ(json["clones"][0]["packet"], udp_to_port_9);
  Outcome no_mirror = bpfvm("run " + object("tc_mirror") + " --packet-hex '" + udp_to_port_9 + "'");
  EXPECT_EQ(no_mirror.out.find("clone"), std::string::npos) << no_mirror.out;

  auto bad = write("bad.txt", "route 10.0.0.0/8\n");
  Outcome refused = bpfvm("run " + object("xdp_router") + " --network " + bad.string());
  EXPECT_EQ(refused.status, 2);
  EXPECT_NE(refused.err.find("network line 1"), std::string::npos) << refused.err;
}

// What the helpers recorded beyond the packet: bpf_redirect's target (tc and xdp) and the
// tunnel key bpf_skb_set_tunnel_key attached (tc_tunnel, xdp_meta), as text and as JSON.
TEST_F(ObjectRun, PrintsRedirectTargetsAndTheTunnelKey) {
  Outcome tunnel = bpfvm("run " + object("tc_tunnel") + " --program encapsulate --packet-hex '" +
                         udp_to_port_9 + "'");
  ASSERT_EQ(tunnel.status, 0) << tunnel.err;
  EXPECT_EQ(tunnel.out.substr(0, tunnel.out.find('\n')), "0x7 TC_ACT_REDIRECT");
  // id: source ^ destination; remote: the destination; flags: TUNNEL_NOCACHE | TUNNEL_KEY
  // (BPF_F_ZERO_CSUM_TX leaves TUNNEL_CSUM out).
  EXPECT_NE(tunnel.out.find("\nredirect to ifindex 5 (egress)\ntunnel key: id 0xcaa80000, remote "
                            "10.0.0.1, local 172.16.0.1, tos 0, ttl 64, flags 0x2004\n"),
            std::string::npos)
      << tunnel.out;

  Outcome json_run = bpfvm("run " + object("tc_tunnel") + " --program encapsulate --json " +
                           "--packet-hex '" + udp_to_port_9 + "'");
  ASSERT_EQ(json_run.status, 0) << json_run.err;
  auto json = nlohmann::json::parse(json_run.out);
  EXPECT_EQ(json["redirect"]["ifindex"], 5);
  EXPECT_EQ(json["redirect"]["ingress"], false);
  EXPECT_EQ(json["tunnel_key"]["id"], 0xcaa80000u);
  EXPECT_EQ(json["tunnel_key"]["remote"], "10.0.0.1");
  EXPECT_EQ(json["tunnel_key"]["local"], "172.16.0.1");
  EXPECT_EQ(json["tunnel_key"]["ttl"], 64);

  Outcome xdp = bpfvm("run " + object("xdp_meta") + " --program tag_and_redirect --packet-hex '" +
                      udp_to_port_9 + "'");
  ASSERT_EQ(xdp.status, 0) << xdp.err;
  EXPECT_EQ(xdp.out.substr(0, xdp.out.find('\n')), "0x4 XDP_REDIRECT");
  EXPECT_NE(xdp.out.find("\nredirect to ifindex 3\n"), std::string::npos) << xdp.out;
  // A program that redirects nothing prints no such line.
  Outcome counter = bpfvm("run " + object("xdp_counter") + " --packet-hex '" + udp_to_port_9 + "'");
  EXPECT_EQ(counter.out.find("redirect"), std::string::npos) << counter.out;
}

}  // namespace
