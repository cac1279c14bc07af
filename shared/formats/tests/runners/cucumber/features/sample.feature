@area
Feature: Sample
  Background:
    Given a start

  Scenario: passes
    When it works

  Scenario: fails
    When it breaks

  @wip
  Scenario: pending
    When it is pending

  Scenario: undefined
    When nobody wrote this step

  Scenario Outline: outline <n>
    When it counts <n>

    Examples:
      | n |
      | 1 |
      | 2 |
