"""The projects the browser tests, the screenshots and bench B10 run.
Jobs wait for files in $GATE (named after the run's $KEY), so a test decides
when a job goes on: no sleeps standing in for synchronisation in the test,
only the job's own wait for its gate."""

APP = r"""stages: [build, test, deploy]
jobs:
  compile:
    stage: build
    script:
      - echo "compiling $KEY"
      - while [ ! -e "$GATE/$KEY.compile" ]; do sleep 0.05; done
      - printf '\033[32mcompiled\033[0m with \033[1;33mno warnings\033[0m\n'
  unit:
    stage: test
    needs: [compile]
    script:
      - echo "unit tests of $KEY"
      - test -e "$GATE/$KEY.unit-pass"
  lint:
    stage: test
    needs: [compile]
    script: echo "lint ok"
  deploy:
    stage: deploy
    needs: [unit, lint]
    when: manual
    script: echo "deploying $KEY"
"""

# ~50 MB: 819,200 lines of 64 bytes; line k+1 says "line k" (the first is
# the echoed command).
BIG = r"""jobs:
  big:
    script:
      - seq -f 'line %08g of a big log, padded to look like compiler output' 1 819200
      - echo THE-END
"""
