// host/engine/data/labels.h — the class set of an audit, checked against the labels of its files (docs/pipelines.md).
//
// The classes are those the pipeline declares (`class_names`, `num_classes`, or names in the file's header), else
// 0..max label of the training file. Every class needs a training example and every label must be a class: one row
// labelled 100000 must not make a 100,001-class model, and a file holding only class 3 is not a 4-class task.
#pragma once

#include "data/dataset.h"

#include <string>

namespace compaudit::engine {

/// Labels of one source file, for checking: its RawData and its path (messages name file, line or row).
struct LabelSource {
  const RawData* raw = nullptr;
  std::string file;
};

/// The number of classes: `declared` when > 0 (else max training label + 1). Throws Error(data) naming the label, the
/// file and its line (CSV) or row when a label is not one of the classes, or when a class has no training example,
/// e.g. "class 10 has no training examples (labels present: 0..9, and 100000 at line 1236)".
int check_class_set(const LabelSource& train, const LabelSource* test, int declared);

}  // namespace compaudit::engine
