#include "tests/support/pipeline_support.hpp"

#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

#include "sovereign/keystore.hpp"

namespace sovereign::test {

PipelineWorld::PipelineWorld(const std::vector<std::string>& regions) : regions_(regions) {
  for (const auto& region : regions) {
    auto ks = EmbeddedKeystore::Init(tmp_.path() / region, region);
    if (!ks.ok()) throw std::runtime_error("keystore init: " + ks.status().ToString());
    if (!(*ks)->CreateKey("users").ok()) throw std::runtime_error("create key");
  }
}

std::string PipelineWorld::WritePolicy(OrderedJson policy, const std::string& name) const {
  if (!policy.contains("keystores")) {
    OrderedJson ks = OrderedJson::object();
    for (const auto& r : regions_) ks[r] = {{"dir", KeystoreDir(r)}};
    policy["keystores"] = ks;
  }
  const std::string path = File(name);
  WriteFile(path, policy.dump(2));
  return path;
}

OrderedJson UsersPolicy() {
  return OrderedJson::parse(R"({
    "region": {"from": "/residency", "default": "us"},
    "record_id": "/id",
    "fields": [
      {"path": "/email", "key": "users", "label": "email", "mode": "deterministic",
       "index": {"path": "/email_index", "bits": 32}},
      {"path": "/ssn", "key": "users", "mode": "random"},
      {"path": "/address/*", "key": "users", "label": "address", "mode": "random"},
      {"path": "/devices/*/ip", "key": "users", "label": "ip", "mode": "random"},
      {"path": "/profile", "key": "users", "mode": "random"}
    ]})");
}

std::vector<OrderedJson> GenerateUsers(std::size_t n, std::uint32_t seed, const std::vector<std::string>& regions) {
  std::mt19937 rng(seed);
  auto pick = [&](std::size_t k) { return static_cast<std::size_t>(rng() % k); };
  const std::vector<std::string> strings = {
      "ann@example.com", "Zoë Ünïcødé 名前 🚀", "quote \" back\\slash", "tab\tnew\nline\r", "", "\u0001ctl",
      "sov1-not-a-ciphertext", "  padded  ", "x", "日本語テキスト", "emoji 👩‍👩‍👧"};
  std::vector<OrderedJson> out;
  for (std::size_t i = 0; i < n; ++i) {
    OrderedJson r;
    r["id"] = i % 7 == 3 ? OrderedJson(static_cast<std::int64_t>(i)) : OrderedJson("user-" + std::to_string(i));
    if (pick(5) != 0) r["email"] = strings[pick(strings.size())] + "." + std::to_string(pick(50)) + "@x.org";
    switch (pick(6)) {
      case 0: break;  // missing
      case 1: r["ssn"] = nullptr; break;
      case 2: r["ssn"] = static_cast<std::int64_t>(rng()); break;
      case 3: r["ssn"] = 12.5e-3 * static_cast<double>(pick(1000)); break;
      default: r["ssn"] = std::to_string(100000000 + pick(899999999));
    }
    if (pick(4) != 0) {
      r["address"] = {{"street", strings[pick(strings.size())]}, {"zip", pick(2) ? OrderedJson(pick(99999)) : OrderedJson("0" + std::to_string(pick(9999)))},
                      {"lines", {"a", {1, 2, {{"deep", true}}}, nullptr}}};
    } else if (pick(2)) {
      r["address"] = OrderedJson::array({"line one", "", false});
    }
    OrderedJson devices = OrderedJson::array();
    for (std::size_t d = pick(4); d > 0; --d) {
      OrderedJson dev = {{"os", pick(2) ? "ios" : "linux"}};
      if (pick(3)) dev["ip"] = "10.0." + std::to_string(pick(256)) + "." + std::to_string(pick(256));
      devices.push_back(dev);
    }
    r["devices"] = devices;
    if (pick(3) == 0) r["profile"] = {{"bio", strings[pick(strings.size())]}, {"tags", {"a", "b"}}, {"score", -1.25}};
    if (pick(3) == 0) r["profile"] = pick(2) ? OrderedJson(true) : OrderedJson(OrderedJson::object());
    r["residency"] = regions[pick(regions.size())];
    r["plan"] = pick(2) ? "pro" : "free";
    r["age"] = pick(90);
    out.push_back(std::move(r));
  }
  return out;
}

std::string Ndjson(const std::vector<OrderedJson>& records) {
  std::string out;
  for (const auto& r : records) out += r.dump() + "\n";
  return out;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t nl = text.find('\n', pos);
    out.push_back(text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos));
    if (nl == std::string::npos) break;
    pos = nl + 1;
  }
  return out;
}

nlohmann::json Summary(const ProcessResult& r) {
  // The last summary-shaped line: sanitizer builds may print their own report after it.
  const auto lines = Lines(r.err);
  for (auto it = lines.rbegin(); it != lines.rend(); ++it) {
    if (it->rfind("{\"records_in\":", 0) == 0) return nlohmann::json::parse(*it);
  }
  throw std::runtime_error("no summary line on stderr");
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

std::vector<std::string> PlaintextValues(const std::vector<OrderedJson>& records) {
  std::vector<std::string> out;
  auto collect = [&](const OrderedJson& v, auto& self) -> void {
    if (v.is_string()) {
      const auto& s = v.get_ref<const std::string&>();
      // Short values can occur inside base64url ciphertexts by chance: scan for distinctive ones.
      if (s.size() >= 8) out.push_back(s);
    } else if (v.is_structured()) {
      for (const auto& c : v) self(c, self);
    }
  };
  for (const auto& r : records) {
    for (const char* k : {"email", "ssn", "address", "profile"}) {
      if (r.contains(k)) collect(r[k], collect);
    }
    for (const auto& d : r["devices"]) {
      if (d.contains("ip")) collect(d["ip"], collect);
    }
  }
  return out;
}

}  // namespace sovereign::test
