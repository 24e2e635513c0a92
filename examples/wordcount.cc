// wordcount: counts words in a file or a directory of files.
//   args: input (file or directory), output (directory)
// A word is a maximal run of ASCII letters and digits, lowercased. Output lines: word<TAB>count,
// one per distinct word, written at end of input.
#include <cctype>

#include "sluice/connectors/file_source.h"
#include "sluice/connectors/sinks.h"
#include "sluice/sluice.h"

namespace {

class CountWords final
    : public sluice::KeyedProcessFunction<std::string, std::string, std::string> {
 public:
  void Open(sluice::KeyedContext<std::string>& ctx) override {
    count_ = ctx.GetState<int64_t>("count");
  }
  void ProcessElement(const std::string&, sluice::KeyedContext<std::string>&,
                      sluice::Collector<std::string>&) override {
    count_.Update(count_.ValueOr(0) + 1);
  }
  void EndInput(sluice::KeyedContext<std::string>& ctx,
                sluice::Collector<std::string>& out) override {
    for (const auto& word : ctx.Keys()) {
      ctx.SetCurrentKey(word);
      out.Collect(word + "\t" + std::to_string(count_.ValueOr(0)));
    }
  }

 private:
  sluice::ValueState<int64_t> count_;
};

void SplitWords(const std::string& line, sluice::Collector<std::string>& out) {
  std::string word;
  for (char c : line) {
    if (std::isalnum(static_cast<unsigned char>(c)) && static_cast<unsigned char>(c) < 128) {
      word.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    } else if (!word.empty()) {
      out.Collect(word);
      word.clear();
    }
  }
  if (!word.empty()) out.Collect(word);
}

}  // namespace

SLUICE_JOB(env) {
  env.SetJobName("wordcount");
  std::string input = env.RequiredArg("input");
  std::string output = env.RequiredArg("output");
  auto lines = sluice::AddTextFileSource(env, input, "Read lines").Uid("lines");
  auto words = lines.FlatMap<std::string>(SplitWords, "Split words").Uid("split");
  auto counts = words.KeyBy([](const std::string& w) { return w; })
                    .Process([] { return std::make_unique<CountWords>(); }, "Count")
                    .Uid("count");
  counts.SinkTo(sluice::MakeFileSink<std::string>(output), "Write counts").Uid("sink");
}
