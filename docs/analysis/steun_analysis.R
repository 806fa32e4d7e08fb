# Steun analysis starter (R): a linear mixed model per score from `steun export` files.
#
#   Rscript steun_analysis.R EXPORT_DIR [WAVES] [OUT_CSV]
#   Rscript steun_analysis.R var/export t1,t2,t3 results.csv
#
# Reads wide.csv (one row per teacher x child x wave, with the subscale scores the export
# computed with its scoring spec) and data_dictionary.csv (score columns: Field Type "calc").
# Per score it fits, with lme4,
#
#   score ~ wave + (1 | pseudonym/child_code)
#
# (random intercepts for the teacher and for the child within the teacher; REML), and prints
# the wave effects against the first wave and the study's contrast: the change after the course
# minus the change before it, (w3 - w2) - (w2 - w1) = b_w3 - 2 * b_w2. Children with some waves
# missing still count; the report's paired figures use complete pairs only.
#
# Needs R and lme4 (Debian: apt-get install r-base-core r-cran-lme4; elsewhere
# install.packages("lme4")). A starting point, not the analysis plan: add covariates, the reasons
# (`reasons` column) and course progress (`course_completed`) as the study's plan says.

suppressPackageStartupMessages(library(lme4))
options(width = 200)

args <- commandArgs(trailingOnly = TRUE)
if (length(args) < 1) {
  stop("usage: Rscript steun_analysis.R EXPORT_DIR [WAVES] [OUT_CSV]")
}
export_dir <- args[1]
wide <- read.csv(file.path(export_dir, "wide.csv"), stringsAsFactors = FALSE,
                 colClasses = c(child_code = "character", wave = "character"))
waves <- if (length(args) >= 2 && nzchar(args[2])) strsplit(args[2], ",")[[1]] else
  sort(unique(wide$wave))
out_file <- if (length(args) >= 3) args[3] else NA

dictionary_file <- file.path(export_dir, "data_dictionary.csv")
scores <- character(0)
if (file.exists(dictionary_file)) {
  dictionary <- read.csv(dictionary_file, check.names = FALSE, stringsAsFactors = FALSE)
  scores <- dictionary[dictionary[["Field Type"]] == "calc", "Variable / Field Name"]
  scores <- scores[scores %in% names(wide)]
}
if (length(scores) == 0) {
  cat("No score columns: export with a scoring spec (steun export --spec).\n")
  quit(status = 1)
}

results <- list()
for (score in scores) {
  d <- wide[!is.na(wide[[score]]) & wide$wave %in% waves, c("pseudonym", "child_code", "wave", score)]
  names(d)[4] <- "score"
  if (length(unique(d$wave)) < 2 || length(unique(d$pseudonym)) < 2) next
  d$wave <- factor(d$wave, levels = waves)
  fit <- suppressMessages(suppressWarnings(
    lmer(score ~ wave + (1 | pseudonym/child_code), data = d, REML = TRUE)
  ))
  beta <- fixef(fit)
  V <- as.matrix(vcov(fit))
  contrast <- function(term, weights) {
    L <- setNames(rep(0, length(beta)), names(beta))
    L[names(weights)] <- weights
    estimate <- sum(L * beta)
    se <- sqrt(as.numeric(t(L) %*% V %*% L))
    data.frame(score = score, term = term, estimate = estimate, se = se,
               ci_low = estimate - 1.959964 * se, ci_high = estimate + 1.959964 * se,
               n_obs = nrow(d), n_teachers = length(unique(d$pseudonym)),
               n_children = length(unique(paste(d$pseudonym, d$child_code))))
  }
  rows <- list(contrast("intercept", c("(Intercept)" = 1)))
  for (w in waves[-1]) {
    name <- paste0("wave", w)
    if (name %in% names(beta)) rows[[length(rows) + 1]] <- contrast(paste(w, "-", waves[1]), setNames(1, name))
  }
  if (length(waves) >= 3 && all(paste0("wave", waves[2:3]) %in% names(beta))) {
    weights <- setNames(c(1, -2), paste0("wave", c(waves[3], waves[2])))
    term <- sprintf("(%s - %s) - (%s - %s)", waves[3], waves[2], waves[2], waves[1])
    rows[[length(rows) + 1]] <- contrast(term, weights)
  }
  results[[length(results) + 1]] <- do.call(rbind, rows)
}
if (length(results) == 0) {
  cat("Not enough data for a model (at least two waves and two teachers).\n")
  quit(status = 1)
}
table <- do.call(rbind, results)
print(format(table, digits = 4), row.names = FALSE)
if (!is.na(out_file)) write.csv(table, out_file, row.names = FALSE)
