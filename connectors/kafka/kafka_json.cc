// ParseKafkaJson: nlohmann::json's parser, its tree copied into KafkaJson so that the job
// package's headers need no JSON library.
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "sluice/connectors/kafka_deserializers.h"

namespace sluice {
namespace {

KafkaJson Convert(const nlohmann::json& j) {
  KafkaJson out;
  switch (j.type()) {
    case nlohmann::json::value_t::null:
    case nlohmann::json::value_t::discarded:
      out.kind = KafkaJson::Kind::kNull;
      break;
    case nlohmann::json::value_t::boolean:
      out.kind = KafkaJson::Kind::kBool;
      out.boolean = j.get<bool>();
      break;
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned:
    case nlohmann::json::value_t::number_float:
      out.kind = KafkaJson::Kind::kNumber;
      out.text = j.dump();
      break;
    case nlohmann::json::value_t::string:
      out.kind = KafkaJson::Kind::kString;
      out.text = j.get<std::string>();
      break;
    case nlohmann::json::value_t::array:
      out.kind = KafkaJson::Kind::kArray;
      for (const auto& item : j) out.items.push_back(Convert(item));
      break;
    case nlohmann::json::value_t::object:
      out.kind = KafkaJson::Kind::kObject;
      for (const auto& [key, value] : j.items()) out.fields.emplace_back(key, Convert(value));
      break;
    case nlohmann::json::value_t::binary:
      throw std::runtime_error("binary JSON values are not supported");
  }
  return out;
}

}  // namespace

KafkaJson ParseKafkaJson(std::string_view text) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(std::string("not JSON: ") + e.what());
  }
  return Convert(j);
}

}  // namespace sluice
