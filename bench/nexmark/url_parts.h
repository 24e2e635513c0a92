// What q21 and q22 take from a bid's url and channel (and their hand-written loops): the
// channel_id parameter, the hot channels' ids, and SPLIT_INDEX's tokens.
#pragma once

#include <optional>
#include <string_view>

namespace sluice::nexmark {

//! REGEXP_EXTRACT(url, '(&|^)channel_id=([^&]*)', 2): the first "channel_id=" at the start or
//! after a '&', up to the next '&'.
inline std::optional<std::string_view> ChannelIdParameter(std::string_view url) {
  constexpr std::string_view kKey = "channel_id=";
  for (size_t at = url.find(kKey); at != std::string_view::npos; at = url.find(kKey, at + 1)) {
    if (at != 0 && url[at - 1] != '&') continue;
    const size_t begin = at + kKey.size();
    const size_t end = url.find('&', begin);
    return url.substr(begin, end == std::string_view::npos ? std::string_view::npos : end - begin);
  }
  return std::nullopt;
}

//! The hot channels' ids by lower(channel); empty for another channel.
inline std::string_view HotChannelId(std::string_view channel) {
  auto is = [&](std::string_view name) {
    if (channel.size() != name.size()) return false;
    for (size_t i = 0; i < name.size(); ++i) {
      char c = channel[i];
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      if (c != name[i]) return false;
    }
    return true;
  };
  if (is("apple")) return "0";
  if (is("google")) return "1";
  if (is("facebook")) return "2";
  if (is("baidu")) return "3";
  return {};
}

//! SPLIT_INDEX(s, '/', index): the index-th '/'-separated token (empty tokens count); empty when
//! there is none (NULL, an empty CSV field).
inline std::string_view SplitIndex(std::string_view s, int index) {
  size_t begin = 0;
  for (int i = 0; i < index; ++i) {
    const size_t slash = s.find('/', begin);
    if (slash == std::string_view::npos) return {};
    begin = slash + 1;
  }
  const size_t end = s.find('/', begin);
  return s.substr(begin, end == std::string_view::npos ? std::string_view::npos : end - begin);
}

}  // namespace sluice::nexmark
