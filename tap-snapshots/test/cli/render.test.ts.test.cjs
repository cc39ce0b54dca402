/* IMPORTANT
 * This snapshot file is auto-generated, but designed for humans.
 * It should be checked into source control and tracked carefully.
 * Re-generate by setting TAP_SNAPSHOT=1 and running tests.
 * Make sure to inspect the output below.  Do not ignore changes!
 */
'use strict'
exports[`test/cli/render.test.ts > TAP > colour only on a terminal without NO_COLOR > describe ord-compensated in colour 1`] = `
Instance:    [1mord-compensated[22m
Saga:        order-fulfillment
Definition:  16aec265871b7851123f84ffb46f09fb4d9306287cb02614ac64e5e13e801a68
Key:         o-compensated
Correlation: corr-ord-compensated
State:       [33mcompensated[39m
Reason:      step charge-payment failed: reply PaymentDeclined {"reason":"card declined"}
Created:     2026-11-26 12:01:01Z (5m00s ago)
Updated:     2026-11-26 12:01:02Z (4m59s ago), 370ms after it started
Deadline:    2026-11-26 12:11:01Z
Input:       {"orderId":"o-compensated","customerId":"c-1","items":[{"sku":"sku-1","quantity":2}],"total":42}

STEP               STATE        ATTEMPTS  STARTED  FINISHED  DURATION  LAST ERROR
reserve-inventory  [33mcompensated[39m       1/3     +0ms     +80ms      80ms  -
[2m  ↳ compensation[22m   [33mcompensated[39m      1/10   +280ms    +370ms      90ms  -
charge-payment     [31mfailed[39m            1/3    +80ms    +280ms     200ms  reply PaymentDeclined {"reason":"card declined"}
ship-order         [2mpending[22m             -        -         -         -  -

`

exports[`test/cli/render.test.ts > TAP > dead letters (pure views) > dlq list 1`] = `
ID  SUBJECT           REASON                                              AGE  DELIVERIES  REDRIVEN
 2  payments.events   not a JSON envelope: The encoded data was not v…  1m05s           1  -
 1  inventory.events  invalid InventoryReserved@1: must have required…  1h00m           5  1m00s ago

`

exports[`test/cli/render.test.ts > TAP > dead letters (pure views) > dlq show binary 1`] = `
Dead letter: 2
Subject:     payments.events
Reason:      not a JSON envelope: The encoded data was not valid for encoding utf-8
Received:    2026-11-26 12:04:57Z (1m05s ago)
Deliveries:  1
Redriven:    no
Headers:
  (none)
Message (2 bytes, not UTF-8; base64):
//4=

`

exports[`test/cli/render.test.ts > TAP > dead letters (pure views) > dlq show text 1`] = `
Dead letter: 1
Subject:     inventory.events
Reason:      invalid InventoryReserved@1: must have required property reservationId
Received:    2026-11-26 11:06:02Z (1h00m ago)
Deliveries:  5
Redriven:    2026-11-26 12:05:02Z (1m00s ago) by admin
Headers:
  Nats-Msg-Id: abc
Message (33 bytes):
{"eventType":"InventoryReserved"}

`

exports[`test/cli/render.test.ts > TAP > definitions from files: list, show, diff > defs diff 1`] = `
saga refund-only: added (1 step)
saga order-fulfillment: changed (hash 16aec265871b → 12baf4b79b6f)
  timeout: 10m → 15m
  step reserve-inventory: changed
    compensation.retry.maxAttempts: 10 → 20
  step charge-payment: changed
    timeout: 10s → 20s
    compensation.timeout: 10s → 20s
    command.payload.currency: EUR → {% $input.currency %}
  step gift-wrap: added (position 3)
saga trip-booking: removed

`

exports[`test/cli/render.test.ts > TAP > definitions from files: list, show, diff > defs list --file 1`] = `
NAME          HASH          STEPS                                                TRIGGER                        DEADLINE
trip-booking  2c57d67fe52c  book-travel(book-flight | book-hotel) > await-paym…  bookings.events TripRequested        2h

`

exports[`test/cli/render.test.ts > TAP > definitions from files: list, show, diff > defs show order-fulfillment 1`] = `
Saga:        order-fulfillment
Description: Reserve stock, charge the card, ship; undo in reverse on failure.
Hash:        16aec265871b7851123f84ffb46f09fb4d9306287cb02614ac64e5e13e801a68
Trigger:     orders.events OrderPlaced
Key:         $input.orderId
Deadline:    10m
Schemas:     InventoryReserved@1, OrderPlaced@1, ReserveInventory@1

STEP               COMMAND                   REPLIES                   TIMEOUT  ATTEMPTS  COMPENSATION              WHEN
reserve-inventory  inventory.commands Rese…  InventoryReserved ✗ Out…       5s         3  ReleaseInventory (10 at…  -
charge-payment     payments.commands Charg…  PaymentCharged ✗ Paymen…      10s         3  RefundPayment (∞ attemp…  -
ship-order         shipping.commands ShipO…  OrderShipped ✗ Shipment…      30s         ∞  pivot                     -

`

exports[`test/cli/render.test.ts > TAP > definitions from files: list, show, diff > defs show trip-booking 1`] = `
Saga:        trip-booking
Description: Book a flight and a hotel at once, wait for the payment, maybe rent a car, then confirm.
Hash:        2c57d67fe52cd6528ba5698b452e1e82941752e7c586e866f4f9322a0938f863
Trigger:     bookings.events TripRequested
Key:         $input.bookingId
Deadline:    2h
Schemas:     BookFlight@1

STEP              COMMAND                              REPLIES                              TIMEOUT  ATTEMPTS  COMPENSATION               WHEN
book-travel       parallel                             -                                          -         -  -                          -
  1: book-flight  flights.commands BookFlight          FlightBooked ✗ NoSeatsLeft               20s         4  CancelFlight (∞ attempts)  -
  2: book-hotel   hotels.commands BookHotel            HotelBooked ✗ NoRoomsLeft ↻ HotelS…       1m         4  CancelHotel (4 attempts)   -
await-payment     wait payments.events PaymentConfir…  -                                         1h         -  -                          -
rent-car          cars.commands RentCar                CarRented ✗ NoCarsLeft                   20s         4  ReturnCar (4 attempts)     $input.needsCar = true
confirm-trip      bookings.commands ConfirmTrip        TripConfirmed                            20s         ∞  pivot                      -
send-itinerary    notifications.commands SendItinera…  ItinerarySent ↻ MailServerBusy           20s         ∞  after pivot                -

`

exports[`test/cli/render.test.ts > TAP > describe: fields, steps with attempts n/N, compensation rows, timers > describe ord-cancelled 1`] = `
Instance:    ord-cancelled
Saga:        order-fulfillment
Definition:  16aec265871b7851123f84ffb46f09fb4d9306287cb02614ac64e5e13e801a68
Key:         o-cancelled
Correlation: corr-ord-cancelled
State:       compensating
Reason:      cancelled: customer called
Created:     2026-11-26 12:05:59Z (2.25s ago)
Updated:     2026-11-26 12:06:00Z (1.85s ago)
Deadline:    2026-11-26 12:15:59Z (in 9m57s)
Input:       {"orderId":"o-cancelled","customerId":"c-1","items":[{"sku":"sku-1","quantity":2}],"total":42}

STEP               STATE         ATTEMPTS  STARTED  FINISHED      DURATION  LAST ERROR
reserve-inventory  succeeded          1/3     +0ms    +100ms         100ms  -
charge-payment     compensating       1/3   +100ms    +400ms         300ms  given up: the saga began to compensate
  ↳ compensation   running            1/∞   +400ms         -  1.85s so far  -
ship-order         pending              -        -         -             -  -

TIMER         STEP            ATTEMPT  DUE
comp_timeout  charge-payment        1  2026-11-26 12:06:10Z (in 8.15s)

OPERATOR ACTION  AT                                BY  REASON
cancel           2026-11-26 12:06:00Z (1.85s ago)  -   customer called

`

exports[`test/cli/render.test.ts > TAP > describe: fields, steps with attempts n/N, compensation rows, timers > describe ord-compensated 1`] = `
Instance:    ord-compensated
Saga:        order-fulfillment
Definition:  16aec265871b7851123f84ffb46f09fb4d9306287cb02614ac64e5e13e801a68
Key:         o-compensated
Correlation: corr-ord-compensated
State:       compensated
Reason:      step charge-payment failed: reply PaymentDeclined {"reason":"card declined"}
Created:     2026-11-26 12:01:01Z (5m00s ago)
Updated:     2026-11-26 12:01:02Z (4m59s ago), 370ms after it started
Deadline:    2026-11-26 12:11:01Z
Input:       {"orderId":"o-compensated","customerId":"c-1","items":[{"sku":"sku-1","quantity":2}],"total":42}

STEP               STATE        ATTEMPTS  STARTED  FINISHED  DURATION  LAST ERROR
reserve-inventory  compensated       1/3     +0ms     +80ms      80ms  -
  ↳ compensation   compensated      1/10   +280ms    +370ms      90ms  -
charge-payment     failed            1/3    +80ms    +280ms     200ms  reply PaymentDeclined {"reason":"card declined"}
ship-order         pending             -        -         -         -  -

`

exports[`test/cli/render.test.ts > TAP > describe: fields, steps with attempts n/N, compensation rows, timers > describe ord-completed 1`] = `
Instance:    ord-completed
Saga:        order-fulfillment
Definition:  16aec265871b7851123f84ffb46f09fb4d9306287cb02614ac64e5e13e801a68
Key:         o-completed
Correlation: corr-ord-completed
State:       completed
Created:     2026-11-26 12:00:00Z (6m02s ago)
Updated:     2026-11-26 12:00:01Z (6m00s ago), 1.96s after it started
Deadline:    2026-11-26 12:10:00Z
Input:       {"orderId":"o-completed","customerId":"c-1","items":[{"sku":"sku-1","quantity":2}],"total":42}

STEP               STATE      ATTEMPTS  STARTED  FINISHED  DURATION  LAST ERROR
reserve-inventory  succeeded       1/3     +0ms    +120ms     120ms  -
charge-payment     succeeded       1/3   +120ms    +460ms     340ms  -
ship-order         succeeded       1/∞   +460ms    +1.96s     1.50s  -

`

exports[`test/cli/render.test.ts > TAP > describe: fields, steps with attempts n/N, compensation rows, timers > describe ord-retried 1`] = `
Instance:    ord-retried
Saga:        order-fulfillment
Definition:  16aec265871b7851123f84ffb46f09fb4d9306287cb02614ac64e5e13e801a68
Key:         o-retried
Correlation: corr-ord-retried
State:       running
Created:     2026-11-26 12:05:54Z (8.10s ago)
Updated:     2026-11-26 12:05:59Z (2.85s ago)
Deadline:    2026-11-26 12:15:54Z (in 9m51s)
Input:       {"orderId":"o-retried","customerId":"c-1","items":[{"sku":"sku-1","quantity":2}],"total":42}

STEP               STATE    ATTEMPTS  STARTED  FINISHED      DURATION  LAST ERROR
reserve-inventory  running       2/3     +0ms         -  8.10s so far  no reply within 5000 ms
charge-payment     pending         -        -         -             -  -
ship-order         pending         -        -         -             -  -

TIMER            STEP               ATTEMPT  DUE
attempt_timeout  reserve-inventory        2  2026-11-26 12:06:04Z (in 2.15s)
deadline         -                        -  2026-11-26 12:15:54Z (in 9m51s)

`

exports[`test/cli/render.test.ts > TAP > describe: fields, steps with attempts n/N, compensation rows, timers > describe ord-stuck 1`] = `
Instance:    ord-stuck
Saga:        order-fulfillment
Definition:  16aec265871b7851123f84ffb46f09fb4d9306287cb02614ac64e5e13e801a68
Key:         o-stuck
Correlation: corr-ord-stuck
State:       failed
Reason:      cancelled: fraud suspected
Failure:     reserve-inventory: no reply within 5000 ms (attempt 10 of 10, no retries left)
Created:     2026-11-26 12:02:02Z (3m59s ago)
Updated:     2026-11-26 12:04:54Z (1m08s ago), 2m51s after it started
Deadline:    2026-11-26 12:12:02Z
Input:       {"orderId":"o-stuck","customerId":"c-1","items":[{"sku":"sku-1","quantity":2}],"total":42}

STEP               STATE                ATTEMPTS  STARTED  FINISHED  DURATION  LAST ERROR
reserve-inventory  compensation_failed       1/3     +0ms    +100ms     100ms  -
  ↳ compensation   compensation_failed     10/10   +300ms    +2m51s     2m51s  no reply within 5000 ms (attempt 10 of 1…
charge-payment     compensated               1/3   +100ms    +200ms     100ms  given up: the saga began to compensate
  ↳ compensation   compensated               1/∞   +200ms    +300ms     100ms  -
ship-order         pending                     -        -         -         -  -

OPERATOR ACTION  AT                                BY  REASON
cancel           2026-11-26 12:02:02Z (3m59s ago)  -   fraud suspected

`

exports[`test/cli/render.test.ts > TAP > describe: fields, steps with attempts n/N, compensation rows, timers > describe ord-stuck at 72 columns 1`] = `
Instance:    ord-stuck
Saga:        order-fulfillment
Definition:  16aec265871b7851123f84ffb46f09fb4d9306287cb02614ac64e5e13e…
Key:         o-stuck
Correlation: corr-ord-stuck
State:       failed
Reason:      cancelled: fraud suspected
Failure:     reserve-inventory: no reply within 5000 ms (attempt 10 of …
Created:     2026-11-26 12:02:02Z (3m59s ago)
Updated:     2026-11-26 12:04:54Z (1m08s ago), 2m51s after it started
Deadline:    2026-11-26 12:12:02Z
Input:       {"orderId":"o-stuck","customerId":"c-1","items":[{"sku":"s…

STEP              STATE                ATTEMPTS  DURATION  LAST ERROR
reserve-invento…  compensation_failed       1/3     100ms  -
  ↳ compensation  compensation_failed     10/10     2m51s  no reply wit…
charge-payment    compensated               1/3     100ms  given up: th…
  ↳ compensation  compensated               1/∞     100ms  -
ship-order        pending                     -         -  -

OPERATOR ACTION  AT                                BY  REASON
cancel           2026-11-26 12:02:02Z (3m59s ago)  -   fraud suspected

`

exports[`test/cli/render.test.ts > TAP > describe: fields, steps with attempts n/N, compensation rows, timers > describe trip-parallel 1`] = `
Instance:    trip-parallel
Saga:        trip-booking
Definition:  2c57d67fe52cd6528ba5698b452e1e82941752e7c586e866f4f9322a0938f863
Key:         b-1
Correlation: corr-trip-parallel
State:       running
Created:     2026-11-26 12:06:01Z (1.15s ago)
Updated:     2026-11-26 12:06:01Z (1.15s ago)
Deadline:    2026-11-26 14:06:01Z (in 1h59m)
Input:       {"bookingId":"b-1","from":"AMS","to":"LIS","departureDate":"2026-12-01","nights":3}

STEP            STATE    ATTEMPTS  STARTED  FINISHED      DURATION  LAST ERROR
book-flight     running       1/4     +0ms         -  1.15s so far  -
book-hotel      running       1/4     +0ms         -  1.15s so far  -
await-payment   pending         -        -         -             -  -
rent-car        pending         -        -         -             -  -
confirm-trip    pending         -        -         -             -  -
send-itinerary  pending         -        -         -             -  -

TIMER            STEP         ATTEMPT  DUE
attempt_timeout  book-flight        1  2026-11-26 12:06:21Z (in 18.9s)
attempt_timeout  book-hotel         1  2026-11-26 12:07:01Z (in 58.9s)
deadline         -                  -  2026-11-26 14:06:01Z (in 1h59m)

`

exports[`test/cli/render.test.ts > TAP > describe: fields, steps with attempts n/N, compensation rows, timers > describe trip-waiting 1`] = `
Instance:    trip-waiting
Saga:        trip-booking
Definition:  2c57d67fe52cd6528ba5698b452e1e82941752e7c586e866f4f9322a0938f863
Key:         b-2
Correlation: corr-trip-waiting
State:       running
Created:     2026-11-26 12:06:01Z (just now)
Updated:     2026-11-26 12:06:01Z (just now)
Deadline:    2026-11-26 14:06:01Z (in 1h59m)
Input:       {"bookingId":"b-2","from":"AMS","to":"LIS","departureDate":"2026-12-01","nights":3}

STEP            STATE      ATTEMPTS  STARTED  FINISHED      DURATION  LAST ERROR
book-flight     succeeded       1/4     +0ms    +300ms         300ms  -
book-hotel      succeeded       1/4     +0ms    +600ms         600ms  -
await-payment   running         1/1   +600ms         -  350ms so far  -
rent-car        pending           -        -         -             -  -
confirm-trip    pending           -        -         -             -  -
send-itinerary  pending           -        -         -             -  -

TIMER         STEP           ATTEMPT  DUE
wait_timeout  await-payment        -  2026-11-26 13:06:01Z (in 59m59s)
deadline      -                    -  2026-11-26 14:06:01Z (in 1h59m)

`

exports[`test/cli/render.test.ts > TAP > history: the journal with offsets from the start > history ord-cancelled 1`] = `
 SEQ        AT  EVENT                      DETAIL
   1      +0ms  SagaStarted                key o-cancelled, correlation corr-ord-cancelled, deadline +10m00s
   2      +0ms  StepDispatched             reserve-inventory attempt 1 sent, times out at +5.00s
   3    +100ms  StepSucceeded              reserve-inventory
   4    +100ms  StepDispatched             charge-payment attempt 1 sent, times out at +10.1s
   5    +400ms  StepGivenUp                charge-payment given up (timed_out, outcome unknown)
   6    +400ms  CompensationStarted        cancelled: customer called; to undo: charge-payment, reserve-inventory
   7    +400ms  CompensationDispatched     charge-payment undo attempt 1 sent, times out at +10.4s

`

exports[`test/cli/render.test.ts > TAP > history: the journal with offsets from the start > history ord-compensated 1`] = `
 SEQ        AT  EVENT                      DETAIL
   1      +0ms  SagaStarted                key o-compensated, correlation corr-ord-compensated, deadline +10m00s
   2      +0ms  StepDispatched             reserve-inventory attempt 1 sent, times out at +5.00s
   3     +80ms  StepSucceeded              reserve-inventory
   4     +80ms  StepDispatched             charge-payment attempt 1 sent, times out at +10.1s
   5    +280ms  StepFailed                 charge-payment failed: reply PaymentDeclined {"reason":"card declined"}
   6    +280ms  CompensationStarted        step charge-payment failed: reply PaymentDeclined {"reason":"card declined"}…
   7    +280ms  CompensationDispatched     reserve-inventory undo attempt 1 sent, times out at +5.28s
   8    +370ms  StepCompensated            reserve-inventory
   9    +370ms  SagaCompensated

`

exports[`test/cli/render.test.ts > TAP > history: the journal with offsets from the start > history ord-stuck at 90 columns 1`] = `
 SEQ        AT  EVENT                      DETAIL
   1      +0ms  SagaStarted                key o-stuck, correlation corr-ord-stuck, deadl…
   2      +0ms  StepDispatched             reserve-inventory attempt 1 sent, times out at…
   3    +100ms  StepSucceeded              reserve-inventory
   4    +100ms  StepDispatched             charge-payment attempt 1 sent, times out at +1…
   5    +200ms  StepGivenUp                charge-payment given up (timed_out, outcome un…
   6    +200ms  CompensationStarted        cancelled: fraud suspected; to undo: charge-pa…
   7    +200ms  CompensationDispatched     charge-payment undo attempt 1 sent, times out …
   8    +300ms  StepCompensated            charge-payment
   9    +300ms  CompensationDispatched     reserve-inventory undo attempt 1 sent, times o…
  10    +5.30s  CompensationAttemptFailed  reserve-inventory undo attempt 1: no reply wit…
  11    +5.80s  CompensationDispatched     reserve-inventory undo attempt 2 sent, times o…
  12    +10.8s  CompensationAttemptFailed  reserve-inventory undo attempt 2: no reply wit…
  13    +11.8s  CompensationDispatched     reserve-inventory undo attempt 3 sent, times o…
  14    +16.8s  CompensationAttemptFailed  reserve-inventory undo attempt 3: no reply wit…
  15    +18.8s  CompensationDispatched     reserve-inventory undo attempt 4 sent, times o…
  16    +23.8s  CompensationAttemptFailed  reserve-inventory undo attempt 4: no reply wit…
  17    +27.8s  CompensationDispatched     reserve-inventory undo attempt 5 sent, times o…
  18    +32.8s  CompensationAttemptFailed  reserve-inventory undo attempt 5: no reply wit…
  19    +40.8s  CompensationDispatched     reserve-inventory undo attempt 6 sent, times o…
  20    +45.8s  CompensationAttemptFailed  reserve-inventory undo attempt 6: no reply wit…
  21    +1m01s  CompensationDispatched     reserve-inventory undo attempt 7 sent, times o…
  22    +1m06s  CompensationAttemptFailed  reserve-inventory undo attempt 7: no reply wit…
  23    +1m36s  CompensationDispatched     reserve-inventory undo attempt 8 sent, times o…
  24    +1m41s  CompensationAttemptFailed  reserve-inventory undo attempt 8: no reply wit…
  25    +2m11s  CompensationDispatched     reserve-inventory undo attempt 9 sent, times o…
  26    +2m16s  CompensationAttemptFailed  reserve-inventory undo attempt 9: no reply wit…
  27    +2m46s  CompensationDispatched     reserve-inventory undo attempt 10 sent, times …
  28    +2m51s  CompensationFailed         reserve-inventory: no reply within 5000 ms (at…
  29    +2m51s  SagaFailed                 reserve-inventory: no reply within 5000 ms (at…

`

exports[`test/cli/render.test.ts > TAP > list: every instance, filters, paging > list --limit 3 --cursor (second page) 1`] = `
ID             SAGA               KEY          STATE         AGE  UPDATED
ord-rejected   order-fulfillment  o-rejected   compensating   1s       1s
ord-cancelled  order-fulfillment  o-cancelled  compensating   2s       1s
ord-pivot      order-fulfillment  o-pivot      running        2s       2s

`

exports[`test/cli/render.test.ts > TAP > list: every instance, filters, paging > list --saga trip-booking 1`] = `
ID             SAGA          KEY  STATE    AGE  UPDATED
trip-waiting   trip-booking  b-2  running   0s       0s
trip-parallel  trip-booking  b-1  running   1s       1s

`

exports[`test/cli/render.test.ts > TAP > list: every instance, filters, paging > list --state running 1`] = `
ID             SAGA               KEY        STATE    AGE  UPDATED
ord-busy       order-fulfillment  o-busy     running   0s       0s
trip-waiting   trip-booking       b-2        running   0s       0s
trip-parallel  trip-booking       b-1        running   1s       1s
ord-pivot      order-fulfillment  o-pivot    running   2s       2s
ord-retried    order-fulfillment  o-retried  running   8s       2s

`

exports[`test/cli/render.test.ts > TAP > list: every instance, filters, paging > list 1`] = `
ID               SAGA               KEY            STATE           AGE  UPDATED
ord-busy         order-fulfillment  o-busy         running          0s       0s
trip-waiting     trip-booking       b-2            running          0s       0s
trip-parallel    trip-booking       b-1            running          1s       1s
ord-rejected     order-fulfillment  o-rejected     compensating     1s       1s
ord-cancelled    order-fulfillment  o-cancelled    compensating     2s       1s
ord-pivot        order-fulfillment  o-pivot        running          2s       2s
ord-retried      order-fulfillment  o-retried      running          8s       2s
ord-stuck        order-fulfillment  o-stuck        failed        3m59s    1m08s
ord-compensated  order-fulfillment  o-compensated  compensated   5m00s    4m59s
ord-completed    order-fulfillment  o-completed    completed     6m02s    6m00s

`

exports[`test/cli/render.test.ts > TAP > stats > stats 1`] = `
SAGA               RUNNING  COMPENSATING  COMPLETED  COMPENSATED  FAILED  TOTAL
order-fulfillment        3             2          1            1       1      8
trip-booking             2             0          0            0       0      2
total                    5             2          1            1       1     10

Timers pending: 13
Outbox backlog: 49
Dead letters:   0
Consumer lag:   unknown (read offline)

`

exports[`test/cli/render.test.ts > TAP > why: one paragraph, wrapped to the terminal > why ord-cancelled 1`] = `
order-fulfillment instance ord-cancelled is compensating because cancelled: customer called. Last
operator action: an operator cancelled it at 12:06:00 UTC (1.85s ago), saying “customer called”. It
is waiting for the reply (PaymentRefunded) on payments.events to its RefundPayment command that
undoes step charge-payment, attempt 1 of unlimited, sent 12:06:00 UTC (1.85s ago); without a reply
by 12:06:10 UTC (in 8.15s), attempt 2 follows. After that, reserve-inventory is still to undo.
Nothing to do but wait: a compensation cannot be cancelled; if its attempts run out, the instance
becomes failed and waits for \`sagactl retry ord-cancelled\`. If no answer comes, check the service
that consumes payments.commands.

`

exports[`test/cli/render.test.ts > TAP > why: one paragraph, wrapped to the terminal > why ord-completed 1`] = `
order-fulfillment instance ord-completed is waiting for nothing: it completed at 12:00:01 UTC (6m00s
ago), 1.96s after it started; 3 steps succeeded. There is nothing to do.

`

exports[`test/cli/render.test.ts > TAP > why: one paragraph, wrapped to the terminal > why ord-retried 1`] = `
order-fulfillment instance ord-retried is running. It is waiting for the reply (InventoryReserved)
on inventory.events to its ReserveInventory command for step reserve-inventory, attempt 2 of 3, sent
12:05:59 UTC (2.85s ago); without a reply by 12:06:04 UTC (in 2.15s), attempt 3 follows. The
previous attempt failed with “no reply within 5000 ms”. The saga deadline falls at 12:15:54 UTC (in
9m51s); if it is still running then, it compensates. You can let it run, or stop it and undo its
done steps with \`sagactl cancel ord-retried --reason "..."\`. If no answer comes, check the service
that consumes inventory.commands.

`

exports[`test/cli/render.test.ts > TAP > why: one paragraph, wrapped to the terminal > why ord-stuck 1`] = `
order-fulfillment instance ord-stuck is failed and waiting for an operator: undoing step
reserve-inventory (ReleaseInventory) failed after 10 of 10 attempts, at 12:04:54 UTC (1m08s ago),
the last with “no reply within 5000 ms (attempt 10 of 10, no retries left)”. Last operator action:
an operator cancelled it at 12:02:02 UTC (3m59s ago), saying “fraud suspected”. It had begun
compensating because cancelled: fraud suspected. Fix what makes the undo fail (the service that
consumes inventory.commands), then resume the compensation with \`sagactl retry ord-stuck\`.

`

exports[`test/cli/render.test.ts > TAP > why: one paragraph, wrapped to the terminal > why trip-waiting 1`] = `
trip-booking instance trip-waiting is running. It is waiting for a PaymentConfirmed event on
payments.events for step await-payment since 12:06:01 UTC (just now); if none comes by 13:06:01 UTC
(in 59m59s), the step times out and the saga compensates. The saga deadline falls at 14:06:01 UTC
(in 1h59m); if it is still running then, it compensates. You can let it run, or stop it and undo its
done steps with \`sagactl cancel trip-waiting --reason "..."\`.

`
