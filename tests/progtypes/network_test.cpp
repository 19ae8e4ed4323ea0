// The Network model: addresses and the line format (`bpfvm run --network`).
#include <bpfvm/network.hpp>

#include <gtest/gtest.h>

namespace bpfvm {
namespace {

TEST(Network, AddressesParseAndPrint) {
  auto v4 = IpAddress::parse("10.0.1.254");
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->family, IpAddress::inet);
  EXPECT_EQ(v4->bytes[0], 10);
  EXPECT_EQ(v4->bytes[3], 254);
  EXPECT_EQ(v4->to_string(), "10.0.1.254");
  auto v6 = IpAddress::parse("2001:db8::1");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->family, IpAddress::inet6);
  EXPECT_EQ(v6->bytes[15], 1);
  EXPECT_EQ(v6->to_string(), "2001:db8::1");
  EXPECT_FALSE(IpAddress::parse("10.0.1"));
  EXPECT_FALSE(IpAddress::parse("eth0"));
}

TEST(Network, LinesDescribeInterfacesRoutesAndNeighbours) {
  Network net = Network::loopback();
  auto ok = net.add_lines(R"(
    # a router with one uplink
    link 2 eth0 mac 02:00:00:00:00:01 mtu 1400
    link 3 eth1 down noforward
    addr 2 10.0.0.1/24
    route 0.0.0.0/0 via 10.0.0.254 dev 2 metric 10 table 100 mtu 1300 src 10.0.0.1
    route 198.51.100.0/24 blackhole
    neigh 2 10.0.0.254 02:00:00:00:00:fe
  )");
  ASSERT_TRUE(ok) << ok.error().to_string();
  ASSERT_EQ(net.interfaces.size(), 3u);
  const NetInterface* eth0 = net.find_interface(2);
  ASSERT_NE(eth0, nullptr);
  EXPECT_EQ(eth0->name, "eth0");
  EXPECT_EQ(eth0->mtu, 1400u);
  EXPECT_EQ(eth0->mac[5], 1);
  ASSERT_EQ(eth0->addresses.size(), 1u);
  EXPECT_EQ(eth0->addresses[0].prefix_len, 24);
  const NetInterface* eth1 = net.find_interface(3);
  ASSERT_NE(eth1, nullptr);
  EXPECT_FALSE(eth1->up);
  EXPECT_FALSE(eth1->forwarding);
  ASSERT_EQ(net.routes.size(), 2u);
  const Route& def = net.routes[0];
  EXPECT_EQ(def.prefix_len, 0);
  ASSERT_TRUE(def.gateway);
  EXPECT_EQ(def.gateway->to_string(), "10.0.0.254");
  EXPECT_EQ(def.ifindex, 2u);
  EXPECT_EQ(def.metric, 10u);
  EXPECT_EQ(def.table, 100u);
  EXPECT_EQ(def.mtu, 1300u);
  ASSERT_TRUE(def.source);
  EXPECT_EQ(net.routes[1].type, RouteType::blackhole);
  ASSERT_EQ(net.neighbours.size(), 1u);
  EXPECT_EQ(net.neighbours[0].mac[5], 0xfe);
}

TEST(Network, LinkChangesAKnownInterface) {
  Network net = Network::loopback();
  ASSERT_TRUE(net.add_lines("link 1 lo forward mtu 1500"));
  ASSERT_EQ(net.interfaces.size(), 1u);
  EXPECT_TRUE(net.interfaces[0].forwarding);
  EXPECT_EQ(net.interfaces[0].mtu, 1500u);
  EXPECT_EQ(net.interfaces[0].addresses.size(), 2u);  // kept
}

TEST(Network, BadLinesNameTheLine) {
  for (const char* text : {"link 0 eth0", "link 2", "addr 9 10.0.0.1/24", "addr 1 10.0.0.1/33",
                           "route 10.0.0.0/8", "route 10.0.0.0/8 via 2001:db8::1 dev 1",
                           "neigh 1 10.0.0.1 02:00:00:00:00", "frobnicate", "link 2 eth0 mtu"}) {
    Network net = Network::loopback();
    auto ok = net.add_lines(std::string("\n") + text);
    ASSERT_FALSE(ok) << text;
    EXPECT_NE(ok.error().message.find("line 2"), std::string::npos) << ok.error().to_string();
  }
}

}  // namespace
}  // namespace bpfvm
