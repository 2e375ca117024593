//! GLUE: the nine tasks' files, their labels, their metrics, and evaluating a model on them.

pub mod evaluate;
pub mod metrics;
pub mod reader;
pub mod tasks;

pub use evaluate::{evaluate, Evaluation, Prediction};
pub use reader::{read_split, Example, GlueError, Gold, LabelMap};
pub use tasks::{Metric, Split, Task};
