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

# The screenshots' project: a pipeline that looks like a real one. Each run
# is given DELAY (tenths of a second) so the durations chart has a shape,
# and FAIL=1 for the runs whose unit tests fail.
DEMO = r"""stages: [build, test, deploy]
jobs:
  compile:
    stage: build
    script:
      - echo "cc -O2 -c src/main.c src/queue.c src/store.c"
      - sleep "0.$DELAY"
      - printf '\033[1mlinking\033[0m pipewright-demo\n'
      - printf '\033[32m[100%%]\033[0m Built target pipewright-demo\n'
  unit:
    stage: test
    needs: [compile]
    script:
      - printf 'test_queue ........ \033[32mok\033[0m\ntest_store ........ \033[32mok\033[0m\n'
      - sleep "0.$DELAY"
      - if [ "$FAIL" = 1 ]; then printf 'test_retry ........ \033[1;31mFAILED\033[0m\n'; exit 1; fi
      - printf 'test_retry ........ \033[32mok\033[0m\n3 tests, 0 failures\n'
  lint:
    stage: test
    needs: [compile]
    script:
      - echo "checking 42 files"
      - printf '\033[33mwarning:\033[0m line 120 is 104 columns\n'
  integration:
    stage: test
    needs: [compile]
    script:
      - echo "starting the service"
      - sleep "0.$DELAY"
      - echo "12 scenarios passed"
  deploy:
    stage: deploy
    needs: [unit, lint, integration]
    when: manual
    script: echo "deploying to staging"
"""
